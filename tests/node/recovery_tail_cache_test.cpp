// A restarted node's recovery searches the preallocated tail of its last segment only where SEEK_DATA
// finds data, and on ext4 cached pages of a preallocated extent count as data even when they only hold
// the zeros a read filled them with. Recovery drops those clean pages before it searches the tail (top of
// node/storage/recovery.cpp): here a segment whose whole tail was read into the page cache (as readahead
// around appends and earlier recoveries' scans leave it) is opened again, and afterwards the tail is no
// longer all data. Without the drop it stays 63 MiB of data, and every restart reads it twice.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "node/storage/file.h"
#include "tests/storage/storage_test_support.h"

namespace shmraft::storage {
namespace {

using namespace testing;

constexpr std::size_t kSegmentBytes = std::size_t{64} << 20;  // the nodes' default
constexpr uint64_t kEntries = 100;                            // well under 1 MiB of records
constexpr uint64_t kTailFrom = uint64_t{1} << 20;

// The bytes SEEK_DATA reports as data in [from, end of file).
uint64_t data_bytes(const fs::path& file, uint64_t from) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + file.string());
  uint64_t bytes = 0;
  for (const auto& [begin, end] : data_ranges(fd, from, fs::file_size(file))) bytes += end - begin;
  ::close(fd);
  return bytes;
}

// Reads the whole file with pread, which fills the page cache with it (unwritten extents as zero pages).
void read_into_cache(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::vector<char> buffer(std::size_t{1} << 20);
  off_t at = 0;
  while (::pread(fd, buffer.data(), buffer.size(), at) > 0) at += static_cast<off_t>(buffer.size());
  ::close(fd);
}

TEST(RecoveryTailCache, CachedZerosAfterTheLastRecordAreNotSearched) {
  TempDir tmp;
  const Options options = options_with(Durability::none, kSegmentBytes);
  {
    NodeStorage storage(tmp.node(), options);
    append_range(storage, 1, kEntries, 1);
  }
  const fs::path segment = segment_files(tmp.node()).front();
  read_into_cache(segment);
  const uint64_t tail = kSegmentBytes - kTailFrom;
  if (data_bytes(segment, kTailFrom) != tail)
    GTEST_SKIP() << "this file system does not count cached pages of a preallocated extent as data, so "
                    "there is nothing for recovery to drop";

  {
    NodeStorage storage(tmp.node(), options);
    EXPECT_EQ(storage.last_index(), kEntries);
    EXPECT_TRUE(storage.recovery().notes.empty());
  }
  // What remains is at most the readahead of the scans' reads of the last written page (read_ahead_kb,
  // 8 MiB on the VM), not the cached tail.
  EXPECT_LE(data_bytes(segment, kTailFrom), tail / 4);
}

}  // namespace
}  // namespace shmraft::storage
