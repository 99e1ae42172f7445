// Round trips through the API and through reopening: appends across segment boundaries, truncation and
// re-append, hard state, snapshots and compaction, the durability modes' flushes, file modes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

#include "ipc/crc32c.h"
#include "node/storage/format.h"
#include "node/storage/hard_state_file.h"
#include "node/storage/snapshot_file.h"
#include "storage_test_support.h"

namespace shmraft::storage {
namespace {

using namespace testing;

TEST(StorageRoundTrip, FreshDirectoryIsAnEmptyLog) {
  TempDir tmp;
  NodeStorage storage(tmp.node(), options_with(Durability::batch));
  EXPECT_TRUE(storage.recovery().created);
  EXPECT_EQ(storage.first_index(), 1u);
  EXPECT_EQ(storage.last_index(), 0u);
  EXPECT_EQ(storage.term(0), 0u);
  EXPECT_THROW(storage.term(1), std::out_of_range);
  EXPECT_THROW(storage.entry(1), std::out_of_range);
  EXPECT_EQ(storage.hard_state(), HardState{});
  EXPECT_FALSE(storage.snapshot_meta());
  EXPECT_FALSE(storage.load_snapshot());
}

// The entry's type byte travels in the record header (format version 2), whatever the payload.
TEST(StorageRoundTrip, EntryTypesSurviveReopening) {
  TempDir tmp;
  const std::vector<std::byte> data = payload(1, 1, 8);
  {
    NodeStorage storage(tmp.node(), options_with(Durability::batch));
    const LogEntry entries[] = {{1, 1, {}, 1}, {2, 1, data, 0}, {3, 1, data, 2}, {4, 1, {}, 0}};
    storage.append(entries);
    storage.sync();
  }
  NodeStorage storage(tmp.node(), options_with(Durability::batch));
  ASSERT_EQ(storage.last_index(), 4u);
  const uint8_t expected[] = {1, 0, 2, 0};
  for (uint64_t i = 1; i <= 4; ++i) EXPECT_EQ(storage.entry(i).type, expected[i - 1]) << "entry " << i;
  EXPECT_TRUE(storage.entry(4).payload.empty());  // an empty payload no longer means a no-op
}

TEST(StorageRoundTrip, FilesAreOwnerOnly) {
  TempDir tmp;
  {
    NodeStorage storage(tmp.node(), options_with(Durability::none));
    append_range(storage, 1, 10, 1);
    const std::byte data[3] = {};
    storage.save_snapshot({5, 1}, data);
  }
  auto mode_of = [](const fs::path& path) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    return st.st_mode & 0777;
  };
  EXPECT_EQ(mode_of(tmp.node()), 0700u);
  EXPECT_EQ(mode_of(tmp.node() / "meta"), 0600u);
  EXPECT_EQ(mode_of(tmp.node() / "snap" / "snapshot"), 0600u);
  for (const fs::path& segment : segment_files(tmp.node())) EXPECT_EQ(mode_of(segment), 0600u) << segment;
}

TEST(StorageRoundTrip, AppendedEntriesReadBackAndSurviveReopen) {
  for (Durability mode : {Durability::none, Durability::batch, Durability::always}) {
    SCOPED_TRACE(std::string(to_string(mode)));
    TempDir tmp;
    {
      NodeStorage storage(tmp.node(), options_with(mode));
      append_range(storage, 1, 150, 1);
      append_range(storage, 151, 300, 4, 1);
      storage.save_hard_state({4, 2, 250});
      storage.sync();
      ASSERT_EQ(storage.last_index(), 300u);
      for (uint64_t i = 1; i <= 300; ++i) ASSERT_TRUE(entry_is(storage, i, i <= 150 ? 1 : 4));
    }
    NodeStorage storage(tmp.node(), options_with(mode));
    EXPECT_FALSE(storage.recovery().created);
    EXPECT_EQ(storage.first_index(), 1u);
    EXPECT_EQ(storage.last_index(), 300u);
    EXPECT_EQ(storage.recovery().entries, 300u);
    EXPECT_EQ(storage.hard_state(), (HardState{4, 2, 250}));
    for (uint64_t i = 1; i <= 300; ++i) ASSERT_TRUE(entry_is(storage, i, i <= 150 ? 1 : 4));
    EXPECT_TRUE(storage.recovery().notes.empty()) << storage.recovery().notes.front();
  }
}

TEST(StorageRoundTrip, EmptyPayloadsAndViewsIntoTheMapping) {
  TempDir tmp;
  NodeStorage storage(tmp.node(), options_with(Durability::none));
  const std::vector<std::byte> data = payload(2, 1, 100);
  const LogEntry entries[] = {{1, 1, {}}, {2, 1, data}};
  storage.append(entries);
  const EntryView first = storage.entry(1);
  EXPECT_EQ(first.term, 1u);
  EXPECT_TRUE(first.payload.empty());
  const EntryView second = storage.entry(2);
  EXPECT_NE(second.payload.data(), data.data());  // a view of the log, not of the caller's buffer
  // Later appends (even across a segment boundary) leave earlier views valid.
  append_range(storage, 3, 3000, 1);
  EXPECT_TRUE(std::equal(second.payload.begin(), second.payload.end(), data.begin(), data.end()));
  EXPECT_EQ(storage.entry(2).payload.data(), second.payload.data());
}

TEST(StorageRoundTrip, SegmentsAreNamedByTheirFirstIndex) {
  TempDir tmp;
  {
    NodeStorage storage(tmp.node(), options_with(Durability::none, 4096));
    append_range(storage, 1, 500, 1);
  }
  const std::vector<fs::path> files = segment_files(tmp.node());
  ASSERT_GT(files.size(), 5u);
  uint64_t expected_first = 1;
  for (const fs::path& file : files) {
    EXPECT_EQ(file.filename().string(), format::segment_file_name(expected_first));
    EXPECT_EQ(fs::file_size(file), 4096u);
    expected_first += record_offsets(file).size();
  }
  EXPECT_EQ(expected_first, 501u);
  NodeStorage storage(tmp.node(), options_with(Durability::none, 4096));
  EXPECT_EQ(storage.recovery().segments, files.size());
  for (uint64_t i = 1; i <= 500; ++i) ASSERT_TRUE(entry_is(storage, i, 1));
}

TEST(StorageRoundTrip, RecordLargerThanASegmentGetsASegmentOfItsOwn) {
  TempDir tmp;
  const std::vector<std::byte> big = payload(2, 1, 10000);
  {
    NodeStorage storage(tmp.node(), options_with(Durability::batch, 4096));
    append_range(storage, 1, 1, 1);
    const LogEntry entries[] = {{2, 1, big}};
    storage.append(entries);
    append_range(storage, 3, 5, 1);
    storage.sync();
  }
  NodeStorage storage(tmp.node(), options_with(Durability::batch, 4096));
  EXPECT_EQ(storage.last_index(), 5u);
  const EntryView view = storage.entry(2);
  EXPECT_TRUE(std::equal(view.payload.begin(), view.payload.end(), big.begin(), big.end()));
  EXPECT_GE(fs::file_size(tmp.node() / "log" / format::segment_file_name(2)), 10000u);
}

TEST(StorageRoundTrip, AppendRefusesGapsAndFallingTermsWithoutWritingAnything) {
  TempDir tmp;
  NodeStorage storage(tmp.node(), options_with(Durability::none, 4096));
  append_range(storage, 1, 10, 3);
  const std::vector<std::byte> data = payload(11, 3);
  const LogEntry gap[] = {{11, 3, data}, {13, 3, data}};
  EXPECT_THROW(storage.append(gap), StorageError);
  const LogEntry falling[] = {{11, 3, data}, {12, 2, data}};
  EXPECT_THROW(storage.append(falling), StorageError);
  const LogEntry zero_index[] = {{0, 3, data}};
  EXPECT_THROW(storage.append(zero_index), StorageError);
  EXPECT_EQ(storage.last_index(), 10u);
  append_range(storage, 11, 12, 3);
  EXPECT_TRUE(entry_is(storage, 11, 3));
}

// Truncates at positions that hit the middle of a segment, the first entry of a segment, the entry
// just after a boundary and the very end, re-appends with a new term, and checks before and after
// reopening, in every mode.
TEST(StorageRoundTrip, TruncateAndReappendAcrossSegmentBoundaries) {
  for (Durability mode : {Durability::none, Durability::batch, Durability::always}) {
    TempDir tmp;
    const Options options = options_with(mode, 4096);
    std::vector<uint64_t> model(1, 0);  // model[i] = term of entry i
    {
      NodeStorage storage(tmp.node(), options);
      append_range(storage, 1, 200, 1);
      model.resize(201, 1);
    }
    const std::vector<fs::path> files = segment_files(tmp.node());
    ASSERT_GE(files.size(), 6u);
    const uint64_t second_first = *format::parse_segment_file_name(files[1].filename().string());
    const uint64_t fourth_first = *format::parse_segment_file_name(files[3].filename().string());
    const uint64_t cuts[] = {190, fourth_first, second_first + 1, 125, second_first, 200, 2};
    uint64_t term = 1;
    for (uint64_t cut : cuts) {
      SCOPED_TRACE(std::string(to_string(mode)) + " cut at " + std::to_string(cut));
      ++term;
      {
        NodeStorage storage(tmp.node(), options);
        const uint64_t last = storage.last_index();
        storage.truncate_suffix(cut);
        EXPECT_EQ(storage.last_index(), cut - 1);
        EXPECT_THROW(storage.entry(cut), std::out_of_range);
        const uint64_t new_last = std::max<uint64_t>(last, cut + 17);
        append_range(storage, cut, new_last, term, 5);
        storage.sync();
        model.resize(new_last + 1);
        for (uint64_t i = cut; i <= new_last; ++i) model[i] = term;
        for (uint64_t i = 1; i <= new_last; ++i) ASSERT_TRUE(entry_is(storage, i, model[i]));
      }
      NodeStorage storage(tmp.node(), options);
      ASSERT_EQ(storage.last_index(), model.size() - 1);
      for (uint64_t i = 1; i < model.size(); ++i) ASSERT_TRUE(entry_is(storage, i, model[i]));
      EXPECT_TRUE(storage.recovery().notes.empty()) << storage.recovery().notes.front();
    }
  }
}

TEST(StorageRoundTrip, TruncateToAnEmptyLogAndStartAgain) {
  TempDir tmp;
  {
    NodeStorage storage(tmp.node(), options_with(Durability::batch, 4096));
    append_range(storage, 1, 100, 1);
    storage.truncate_suffix(1);
    EXPECT_EQ(storage.last_index(), 0u);
    EXPECT_EQ(storage.first_index(), 1u);
    EXPECT_TRUE(segment_files(tmp.node()).empty());
    append_range(storage, 1, 20, 2);
    storage.sync();
  }
  NodeStorage storage(tmp.node(), options_with(Durability::batch, 4096));
  EXPECT_EQ(storage.last_index(), 20u);
  for (uint64_t i = 1; i <= 20; ++i) ASSERT_TRUE(entry_is(storage, i, 2));
}

TEST(StorageRoundTrip, TruncateRefusesCommittedEntriesAndRangesOutsideTheLog) {
  TempDir tmp;
  NodeStorage storage(tmp.node(), options_with(Durability::none, 4096));
  append_range(storage, 1, 50, 1);
  storage.save_hard_state({1, 1, 30});
  EXPECT_THROW(storage.truncate_suffix(30), StorageError);
  EXPECT_THROW(storage.truncate_suffix(52), StorageError);
  storage.truncate_suffix(51);  // nothing to do
  storage.truncate_suffix(31);
  EXPECT_EQ(storage.last_index(), 30u);
}

TEST(StorageRoundTrip, HardStateSurvivesReopenAndKeepsItsRules) {
  TempDir tmp;
  for (Durability mode : {Durability::none, Durability::batch, Durability::always}) {
    SCOPED_TRACE(std::string(to_string(mode)));
    fs::remove_all(tmp.node());
    {
      NodeStorage storage(tmp.node(), options_with(mode));
      append_range(storage, 1, 100, 1);
      for (uint64_t commit = 1; commit <= 100; ++commit) {
        storage.save_hard_state({commit / 10 + 1, commit % 10 == 0 ? 0u : 3u, commit});
        storage.sync();
      }
      storage.save_hard_state({11, 3, 100});
      EXPECT_THROW(storage.save_hard_state({10, 3, 100}), StorageError);  // term falls
      EXPECT_THROW(storage.save_hard_state({11, 2, 100}), StorageError);  // second vote in term 11
      EXPECT_THROW(storage.save_hard_state({11, 3, 101}), StorageError);  // commit beyond the log
      storage.save_hard_state({12, 0, 100});
      storage.sync();
    }
    NodeStorage storage(tmp.node(), options_with(mode));
    EXPECT_EQ(storage.hard_state(), (HardState{12, 0, 100}));
  }
}

// In mode batch the hard state reaches `meta` only in sync(), after the log range it covers is durable,
// so the commit index on disk never runs ahead of the durable log.
TEST(StorageRoundTrip, BatchModeWritesTheHardStateOnlyInSync) {
  TempDir tmp;
  NodeStorage storage(tmp.node(), options_with(Durability::batch));
  append_range(storage, 1, 10, 1);
  storage.save_hard_state({1, 1, 10});
  auto newest_in_file = [&] {
    const std::vector<std::byte> bytes = read_file(tmp.node() / "meta");
    format::MetaSlot slots[2];
    std::memcpy(&slots[0], &bytes[0], sizeof slots[0]);
    std::memcpy(&slots[1], &bytes[format::kMetaSlotStride], sizeof slots[1]);
    const format::MetaSlot& newest = slots[0].sequence > slots[1].sequence ? slots[0] : slots[1];
    return HardState{newest.term, newest.vote, newest.commit};
  };
  EXPECT_EQ(newest_in_file(), HardState{});
  EXPECT_EQ(storage.hard_state(), (HardState{1, 1, 10}));
  storage.sync();
  EXPECT_EQ(newest_in_file(), (HardState{1, 1, 10}));
}

// The slot written is never the one relied on: mode none alternates; in batch, commit-only updates
// keep overwriting the scratch slot until a term or vote change is flushed.
TEST(StorageRoundTrip, HardStateSlotsProtectTheStateReliedOn) {
  TempDir tmp;
  fs::create_directories(tmp.path());
  StorageStats stats;
  RecoveryReport report;
  const fs::path meta = tmp.path() / "meta";
  auto slot_sequences = [&] {
    const std::vector<std::byte> bytes = read_file(meta);
    format::MetaSlot a, b;
    std::memcpy(&a, &bytes[0], sizeof a);
    std::memcpy(&b, &bytes[format::kMetaSlotStride], sizeof b);
    return std::pair<uint64_t, uint64_t>{a.sequence, b.sequence};
  };
  {
    HardStateFile file = HardStateFile::create(meta, Durability::none, stats, report);
    EXPECT_EQ(slot_sequences(), (std::pair<uint64_t, uint64_t>{1, 0}));
    file.write({1, 0, 0}, 0, false);
    EXPECT_EQ(slot_sequences(), (std::pair<uint64_t, uint64_t>{1, 2}));
    file.write({1, 0, 1}, 0, false);
    EXPECT_EQ(slot_sequences(), (std::pair<uint64_t, uint64_t>{3, 2}));
  }
  fs::remove(meta);
  HardStateFile file = HardStateFile::create(meta, Durability::batch, stats, report);
  file.write({1, 1, 0}, 0, true);  // flushed: slot 1 is relied on from now
  file.write({1, 1, 1}, 0, false);
  file.write({1, 1, 2}, 0, false);
  EXPECT_EQ(slot_sequences(), (std::pair<uint64_t, uint64_t>{4, 2}));
  file.write({2, 0, 2}, 0, true);
  file.write({2, 0, 3}, 0, false);
  EXPECT_EQ(slot_sequences(), (std::pair<uint64_t, uint64_t>{5, 6}));
  EXPECT_EQ(HardStateFile::open(meta, Durability::batch, stats, report).newest(), (HardState{2, 0, 3}));
  EXPECT_EQ(report.hard_state_slots_skipped, 0u);  // a slot not yet written is no damage
  EXPECT_TRUE(report.notes.empty());
}

TEST(StorageRoundTrip, SnapshotCompactionRemovesWholeSegmentsBelowIt) {
  TempDir tmp;
  const Options options = options_with(Durability::batch, 4096);
  const std::vector<std::byte> state = payload(999, 9, 5000);
  uint64_t first_after_compaction = 0;
  {
    NodeStorage storage(tmp.node(), options);
    append_range(storage, 1, 400, 1);
    storage.save_hard_state({1, 1, 300});
    storage.sync();
    EXPECT_THROW(storage.compact(100), StorageError);  // no snapshot yet
    const std::size_t before = segment_files(tmp.node()).size();
    storage.save_snapshot({250, 1}, state);
    EXPECT_EQ(storage.last_index(), 400u);  // the log continues the snapshot: kept
    EXPECT_THROW(storage.compact(251), StorageError);
    storage.compact(250);
    const std::vector<fs::path> after = segment_files(tmp.node());
    EXPECT_LT(after.size(), before);
    first_after_compaction = storage.first_index();
    EXPECT_EQ(after.front().filename().string(), format::segment_file_name(first_after_compaction));
    EXPECT_LE(first_after_compaction, 251u);
    EXPECT_GT(first_after_compaction, 1u);
    EXPECT_EQ(storage.stats().segments_removed, before - after.size());
    EXPECT_EQ(storage.term(250), 1u);
    EXPECT_THROW(storage.entry(first_after_compaction - 1), std::out_of_range);
    for (uint64_t i = first_after_compaction; i <= 400; ++i) ASSERT_TRUE(entry_is(storage, i, 1));
  }
  NodeStorage storage(tmp.node(), options);
  EXPECT_EQ(storage.first_index(), first_after_compaction);
  EXPECT_EQ(storage.last_index(), 400u);
  ASSERT_TRUE(storage.snapshot_meta());
  EXPECT_EQ(*storage.snapshot_meta(), (SnapshotMeta{250, 1}));
  const std::optional<Snapshot> loaded = storage.load_snapshot();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->data, state);
  EXPECT_THROW(storage.save_snapshot({200, 1}, state), StorageError);  // older than the saved one
}

// Files under `dir` that are removed but still open in this process ("<path> (deleted)" in /proc).
std::size_t removed_but_open_under(const fs::path& dir) {
  std::size_t count = 0;
  for (const auto& fd : fs::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    const std::string target = fs::read_symlink(fd.path(), error).string();
    if (!error && target.starts_with(dir.string()) && target.ends_with(" (deleted)")) ++count;
  }
  return count;
}

TEST(StorageRoundTrip, CompactedSegmentsAreUnlinkedAtOnceAndClosedWhileTheLogIsOpen) {
  TempDir tmp;
  NodeStorage storage(tmp.node(), options_with(Durability::none, 4096));
  append_range(storage, 1, 400, 1);
  storage.save_hard_state({1, 1, 400});
  storage.save_snapshot({400, 1}, payload(1, 1, 100));
  storage.compact(400);
  ASSERT_GT(storage.stats().segments_removed, 0u);
  EXPECT_EQ(segment_files(tmp.node()).size(), 1u);  // the names are gone before compact() returns
  // The closer closes them soon, on its own thread, not only when the storage closes.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (removed_but_open_under(tmp.node()) > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(removed_but_open_under(tmp.node()), 0u);
}

// ... with its repair mark (a lost node being repaired, and the start that lost its state).
TEST(StorageRoundTrip, SnapshotKeepsTheConfigurationItCovers) {
  TempDir tmp;
  const SnapshotMeta meta{.last_index = 10,
                          .last_term = 2,
                          .voters = 0b0110,
                          .learners = 0b1000,
                          .repairing = 3,
                          .repair_incarnation = 99};
  {
    NodeStorage storage(tmp.node());
    append_range(storage, 1, 10, 2);
    storage.save_snapshot(meta, payload(10, 2, 64));
  }
  NodeStorage storage(tmp.node());
  EXPECT_EQ(*storage.snapshot_meta(), meta);
  EXPECT_EQ(storage.load_snapshot()->meta, meta);
}

// Snapshot files before membership changes (format version 1) have a 48-byte header and no
// configuration: still read, as recording none.
TEST(StorageRoundTrip, VersionOneSnapshotReadsWithoutAConfiguration) {
  TempDir tmp;
  {
    NodeStorage storage(tmp.node());
    append_range(storage, 1, 10, 1);
    storage.save_snapshot({10, 1}, {});
  }
  const std::vector<std::byte> data = payload(10, 1, 40);
  write_snapshot_file(tmp.node(),
                      format::SnapshotHeaderV1{.last_index = 10, .last_term = 1, .data_bytes = data.size()},
                      data);

  NodeStorage storage(tmp.node());
  EXPECT_EQ(*storage.snapshot_meta(), (SnapshotMeta{10, 1}));
  EXPECT_EQ(storage.load_snapshot()->data, data);
}

// A snapshot streamed in pieces carries the producer's running CRC; the file's CRC is that CRC continued
// from the header (crc32c_combine), never read from the data again. The file is byte for byte the one
// written whole, and its CRC is the one format::snapshot_crc computes over header and data in one pass.
TEST(StorageRoundTrip, StreamedSnapshotFileIsTheWholeOneWithTheDirectCrc) {
  TempDir tmp;
  const std::vector<std::byte> data = payload(77, 5, (std::size_t{3} << 20) + 123);
  const SnapshotMeta meta{77, 5, 0b110, 0b1000};
  const fs::path whole = tmp.path() / "whole";
  const fs::path streamed = tmp.path() / "streamed";
  storage::write_snapshot_file(whole, meta, data);
  storage::write_snapshot_file(streamed, meta, data.size(), [&](const SnapshotPieceSink& write) {
    uint32_t crc = 0;
    for (std::size_t at = 0, n = 1; at < data.size(); at += n, n = n * 7 + 3) {
      const auto piece = std::span(data).subspan(at, std::min(n, data.size() - at));
      crc = ipc::crc32c(piece.data(), piece.size(), crc);
      write(piece, crc);
    }
  });
  const auto read = [](const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(in), {});
  };
  const std::vector<char> bytes = read(streamed);
  EXPECT_TRUE(bytes == read(whole));
  format::SnapshotHeader header;
  ASSERT_EQ(bytes.size(), sizeof header + data.size());
  std::memcpy(&header, bytes.data(), sizeof header);
  EXPECT_EQ(header.crc, format::snapshot_crc(header, data));
}

TEST(StorageRoundTrip, SnapshotThatTheLogDoesNotContinueReplacesTheLog) {
  TempDir tmp;
  const Options options = options_with(Durability::batch, 4096);
  {
    NodeStorage storage(tmp.node(), options);
    append_range(storage, 1, 300, 1);
    const std::byte data[1] = {std::byte{7}};
    storage.save_snapshot({500, 3}, data);  // InstallSnapshot from a leader far ahead
    EXPECT_EQ(storage.last_index(), 500u);
    EXPECT_EQ(storage.first_index(), 501u);
    EXPECT_EQ(storage.term(500), 3u);
    EXPECT_TRUE(segment_files(tmp.node()).empty());
    append_range(storage, 501, 520, 3);
    storage.save_hard_state({3, 0, 510});
    storage.sync();
  }
  NodeStorage storage(tmp.node(), options);
  EXPECT_EQ(storage.first_index(), 501u);
  EXPECT_EQ(storage.last_index(), 520u);
  EXPECT_EQ(storage.term(500), 3u);
  for (uint64_t i = 501; i <= 520; ++i) ASSERT_TRUE(entry_is(storage, i, 3));
}

TEST(StorageRoundTrip, SnapshotWithADifferentTermAtItsIndexReplacesTheLog) {
  TempDir tmp;
  NodeStorage storage(tmp.node(), options_with(Durability::none, 4096));
  append_range(storage, 1, 300, 1);
  storage.save_snapshot({200, 2}, {});
  EXPECT_EQ(storage.last_index(), 200u);
  EXPECT_EQ(storage.first_index(), 201u);
}

// A crash between writing snap/snapshot and removing the log it replaces: opening finishes the job.
TEST(StorageRoundTrip, InterruptedSnapshotInstallIsCompletedOnOpen) {
  TempDir tmp;
  const Options options = options_with(Durability::none, 4096);
  {
    NodeStorage storage(tmp.node(), options);
    append_range(storage, 1, 300, 1);
  }
  {
    StorageStats stats;
    RecoveryReport report;
    SnapshotFile(tmp.node() / "snap", stats, report).save({500, 3}, {});
  }
  NodeStorage storage(tmp.node(), options);
  EXPECT_EQ(storage.last_index(), 500u);
  EXPECT_EQ(storage.first_index(), 501u);
  ASSERT_FALSE(storage.recovery().notes.empty());
  EXPECT_NE(storage.recovery().notes.back().find("interrupted snapshot install"), std::string::npos);
}

// A compaction whose removals a power loss partly undid leaves old segments separated from the log by
// a hole; everything before the hole is in the snapshot, so opening removes them again.
TEST(StorageRoundTrip, SegmentsResurrectedBelowTheSnapshotAreRemovedAgain) {
  TempDir tmp;
  const Options options = options_with(Durability::none, 4096);
  std::vector<std::pair<fs::path, std::vector<std::byte>>> removed;
  {
    NodeStorage storage(tmp.node(), options);
    append_range(storage, 1, 400, 1);
    storage.save_snapshot({300, 1}, {});
    const std::vector<fs::path> before = segment_files(tmp.node());
    for (const fs::path& file : before) removed.emplace_back(file, read_file(file));
    storage.compact(300);
  }
  ASSERT_GE(removed.size(), 4u);
  write_file(removed[0].first, removed[0].second);  // the first comes back, the second does not
  NodeStorage storage(tmp.node(), options);
  ASSERT_FALSE(storage.recovery().notes.empty());
  EXPECT_NE(storage.recovery().notes.front().find("compaction"), std::string::npos);
  EXPECT_FALSE(fs::exists(removed[0].first));
  EXPECT_EQ(storage.last_index(), 400u);
  for (uint64_t i = storage.first_index(); i <= 400; ++i) ASSERT_TRUE(entry_is(storage, i, 1));
}

TEST(StorageRoundTrip, LeftoverTemporaryFilesAreRemoved) {
  TempDir tmp;
  {
    NodeStorage storage(tmp.node(), options_with(Durability::none, 4096));
    append_range(storage, 1, 10, 1);
  }
  write_file(tmp.node() / "log" / (format::segment_file_name(11) + ".tmp"), std::vector<std::byte>(100));
  write_file(tmp.node() / "snap" / "snapshot.tmp", std::vector<std::byte>(100));
  NodeStorage storage(tmp.node(), options_with(Durability::none, 4096));
  ASSERT_EQ(storage.recovery().notes.size(), 2u);
  EXPECT_TRUE(contains(storage.recovery().notes[0], "snap/snapshot.tmp: removed"))
      << storage.recovery().notes[0];
  EXPECT_TRUE(contains(storage.recovery().notes[1], ".seg.tmp: removed")) << storage.recovery().notes[1];
  EXPECT_EQ(segment_files(tmp.node()).size(), 1u);
  EXPECT_FALSE(fs::exists(tmp.node() / "snap" / "snapshot.tmp"));
  EXPECT_EQ(storage.last_index(), 10u);
}

// What each mode flushes: none nothing, batch one msync per sync() however many records, always one
// per record.
TEST(StorageRoundTrip, FlushesPerDurabilityMode) {
  for (Durability mode : {Durability::none, Durability::batch, Durability::always}) {
    TempDir tmp;
    NodeStorage storage(tmp.node(), options_with(mode));
    append_range(storage, 1, 1, 1);  // creates the segment
    storage.sync();
    const uint64_t before = storage.stats().flushes;
    append_range(storage, 2, 21, 1, 20);
    storage.sync();
    const uint64_t flushes = storage.stats().flushes - before;
    switch (mode) {
      case Durability::none:
        EXPECT_EQ(flushes, 0u);
        break;
      case Durability::batch:
        EXPECT_EQ(flushes, 1u);
        break;
      case Durability::always:
        EXPECT_EQ(flushes, 20u);
        break;
    }
  }
}

// A process killed between storing records and flushing them leaves them in the page cache, so the
// next one finds them; it may acknowledge them without writing them again (a follower answering a
// leader that resends them), so in the flushing modes opening flushes every segment that holds records.
TEST(StorageRoundTrip, OpeningFlushesRecordsThePreviousProcessStoredButNeverFlushed) {
  for (Durability mode : {Durability::none, Durability::batch, Durability::always}) {
    TempDir tmp;
    { NodeStorage(tmp.node(), options_with(mode)); }  // created and closed: nothing left to flush
    const ChildResult child = run_in_child([&](int) {
      NodeStorage storage(tmp.node(), options_with(mode));
      append_range(storage, 1, 2000, 1);  // ~200 KiB: several 64 KiB segments
      ::_exit(0);                         // no sync(), no destructor: as if killed before the msync
    });
    ASSERT_TRUE(child.exited_ok()) << child.report;
    NodeStorage reopened(tmp.node(), options_with(mode));
    ASSERT_EQ(reopened.last_index(), 2000u);
    const std::size_t segments = reopened.recovery().segments;
    ASSERT_GE(segments, 3u);
    if (mode == Durability::none)
      EXPECT_EQ(reopened.stats().flushes, 0u);
    else
      EXPECT_GE(reopened.stats().flushes, segments) << to_string(mode);
  }
}

TEST(StorageRoundTrip, DurabilityNamesParse) {
  EXPECT_EQ(parse_durability("none"), Durability::none);
  EXPECT_EQ(parse_durability("batch"), Durability::batch);
  EXPECT_EQ(parse_durability("always"), Durability::always);
  EXPECT_EQ(to_string(Durability::batch), "batch");
  EXPECT_THROW(parse_durability("fsync"), std::invalid_argument);
}

}  // namespace
}  // namespace shmraft::storage
