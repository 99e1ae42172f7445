// Recovery's scans of a segment's tail after the last record, which read the file in 64 KiB chunks and
// skip zero blocks: a non-zero byte or a valid record just before, on and after a chunk edge, and at the
// end of the file, is found exactly where a byte-by-byte reading would find it.
#include <gtest/gtest.h>

#include "storage_test_support.h"

namespace shmraft::storage {
namespace {

using namespace testing;

constexpr std::size_t kPayload = 40;
constexpr std::size_t kSegmentBytes = 256 * 1024;  // four chunks
constexpr uint64_t kEntries = 20;

Options options() {
  return options_with(Durability::none, kSegmentBytes);
}

// A log of kEntries entries in one segment; returns the segment and the offset just past its last record.
std::pair<fs::path, uint64_t> build_log(const fs::path& node) {
  {
    NodeStorage storage(node, options());
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

TEST(TailScan, NonZeroByteNearAChunkEdgeIsZeroedUpToItsWord) {
  std::vector<uint64_t> places(std::begin(kChunkEdges), std::end(kChunkEdges));
  places.push_back(kSegmentBytes - 1);  // the last byte of the file
  for (const uint64_t at : places) {
    SCOPED_TRACE("non-zero byte at " + std::to_string(at));
    TempDir tmp;
    const auto [segment, end] = build_log(tmp.node());
    ASSERT_EQ(fs::file_size(segment), kSegmentBytes);
    const std::byte garbage{0x5a};
    write_at(segment, at, &garbage, 1);
    {
      NodeStorage storage(tmp.node(), options());
      EXPECT_EQ(storage.last_index(), kEntries);
      ASSERT_EQ(storage.recovery().notes.size(), 1u);
      const uint64_t zeroed = (at & ~uint64_t{7}) + 8 - end;
      EXPECT_NE(storage.recovery().notes[0].find(std::to_string(zeroed) + " bytes of an unfinished record"),
                std::string::npos)
          << storage.recovery().notes[0];
    }
    const std::vector<std::byte> bytes = read_file(segment);
    EXPECT_TRUE(std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(end), bytes.end(),
                            [](std::byte b) { return b == std::byte{0}; }));
  }
}

TEST(TailScan, ValidRecordNearAChunkEdgeAfterTheEndIsFound) {
  std::vector<uint64_t> places;
  for (const uint64_t at : kChunkEdges) places.push_back(at & ~uint64_t{7});
  places.push_back(kSegmentBytes - format::record_bytes(kPayload));  // the last place a record fits
  for (const uint64_t at : places) {
    SCOPED_TRACE("record at " + std::to_string(at));
    TempDir tmp;
    const auto [segment, end] = build_log(tmp.node());
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
    const std::string error = message_of([&] { NodeStorage storage(tmp.node(), options()); });
    EXPECT_NE(error.find("at offset " + std::to_string(end) + " (entry 21): all-zero record header"),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("a valid record follows it at offset " + std::to_string(at)), std::string::npos)
        << error;
  }
}

}  // namespace
}  // namespace shmraft::storage
