// Recovery's scans of a segment's tail after the last record, which read the file in 64 KiB chunks and
// skip zero blocks: a non-zero byte or a valid record just before, on and after a chunk edge, and at the
// end of the file, is found exactly where a byte-by-byte reading would find it; so are two non-zero
// bytes with a punched hole between them. At a segment size that is a multiple of the chunk, and at two
// that are not (the last chunk is cut short).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "storage_test_support.h"

namespace shmraft::storage {
namespace {

using namespace testing;

constexpr std::size_t kPayload = 40;
// Four chunks; 3 and 2 chunks and a bit, the last chunk cut short. (Segments are whole 4 KiB pages,
// NodeStorage refuses other sizes, so the last word is never cut.)
constexpr uint64_t kSegmentSizes[] = {256 * 1024, 200'704, 135'168};
constexpr uint64_t kEntries = 20;

Options options(uint64_t segment_bytes) {
  return options_with(Durability::none, segment_bytes);
}

// A log of kEntries entries in one segment; returns the segment and the offset just past its last record.
std::pair<fs::path, uint64_t> build_log(const fs::path& node, uint64_t segment_bytes) {
  {
    NodeStorage storage(node, options(segment_bytes));
    for (uint64_t i = 1; i <= kEntries; ++i) {
      const std::vector<std::byte> data = payload(i, 1, kPayload);
      const LogEntry entry{i, 1, data};
      storage.append({&entry, 1});
    }
  }
  const fs::path segment = segment_files(node).front();
  return {segment, record_offsets(segment).back() + format::record_bytes(kPayload)};
}

const uint64_t kChunkEdges[] = {65536 - 8, 65536 - 1, 65536, 65536 + 7, 131072 - 24, 131072};

// Writes a non-zero byte at each of `places` (after punching a hole over `hole`, if not empty), opens
// the log and expects the tail zeroed from the last record up to the end of the last byte's word.
void expect_zeroed_up_to_last_word(uint64_t segment_bytes, const std::vector<uint64_t>& places,
                                   std::pair<uint64_t, uint64_t> hole = {}) {
  TempDir tmp;
  const auto [segment, end] = build_log(tmp.node(), segment_bytes);
  ASSERT_EQ(fs::file_size(segment), segment_bytes);
  const std::byte garbage{0x5a};
  for (const uint64_t at : places) write_at(segment, at, &garbage, 1);
  if (hole.second > hole.first) {
    const int fd = ::open(segment.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(hole.first),
                          static_cast<off_t>(hole.second - hole.first)),
              0);
    ::close(fd);
  }
  {
    NodeStorage storage(tmp.node(), options(segment_bytes));
    EXPECT_EQ(storage.last_index(), kEntries);
    ASSERT_EQ(storage.recovery().notes.size(), 1u);
    const uint64_t last = *std::max_element(places.begin(), places.end());
    const uint64_t zeroed = (last & ~uint64_t{7}) + 8 - end;
    EXPECT_NE(storage.recovery().notes[0].find(std::to_string(zeroed) + " bytes of an unfinished record"),
              std::string::npos)
        << storage.recovery().notes[0];
  }
  const std::vector<std::byte> bytes = read_file(segment);
  EXPECT_TRUE(std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(end), bytes.end(),
                          [](std::byte b) { return b == std::byte{0}; }));
}

TEST(TailScan, NonZeroByteNearAChunkEdgeIsZeroedUpToItsWord) {
  for (const uint64_t size : kSegmentSizes) {
    std::vector<uint64_t> places;
    for (const uint64_t at : kChunkEdges)
      if (at < size) places.push_back(at);
    places.push_back(size - 1);  // the last byte of the file
    for (const uint64_t at : places) {
      SCOPED_TRACE("segment of " + std::to_string(size) + " bytes, non-zero byte at " + std::to_string(at));
      expect_zeroed_up_to_last_word(size, {at});
    }
  }
}

// The reverse walk over the file's data ranges: the later byte, beyond a hole, decides.
TEST(TailScan, TwoNonZeroBytesWithAPunchedHoleBetweenAreBothZeroed) {
  for (const uint64_t size : kSegmentSizes) {
    SCOPED_TRACE("segment of " + std::to_string(size) + " bytes");
    const uint64_t second = size - 3;
    expect_zeroed_up_to_last_word(size, {70'001, second}, {4096 * 18, (second & ~uint64_t{4095}) - 4096});
  }
}

TEST(TailScan, ValidRecordNearAChunkEdgeAfterTheEndIsFound) {
  for (const uint64_t size : kSegmentSizes) {
    std::vector<uint64_t> places;
    for (const uint64_t at : kChunkEdges)
      if ((at & ~uint64_t{7}) + format::record_bytes(kPayload) <= size) places.push_back(at & ~uint64_t{7});
    places.push_back((size - format::record_bytes(kPayload)) & ~uint64_t{7});  // the last place a record fits
    for (const uint64_t at : places) {
      SCOPED_TRACE("segment of " + std::to_string(size) + " bytes, record at " + std::to_string(at));
      TempDir tmp;
      const auto [segment, end] = build_log(tmp.node(), size);
      format::RecordHeader header;
      header.index = kEntries + 1;
      header.term = 1;
      header.length = kPayload;
      const std::vector<std::byte> data = payload(header.index, 1, kPayload);
      header.crc = format::record_crc(header, data);
      std::vector<std::byte> record(sizeof header);
      std::memcpy(record.data(), &header, sizeof header);
      record.insert(record.end(), data.begin(), data.end());
      write_at(segment, at, record.data(), record.size());
      const std::string error = message_of([&] { NodeStorage storage(tmp.node(), options(size)); });
      EXPECT_NE(error.find("at offset " + std::to_string(end) + " (entry 21): all-zero record header"),
                std::string::npos)
          << error;
      EXPECT_NE(error.find("a valid record follows it at offset " + std::to_string(at)), std::string::npos)
          << error;
    }
  }
}

}  // namespace
}  // namespace shmraft::storage
