// Damage in the log costs only what follows it (Options::lost_mark_on_damage, recovery.cpp): the open
// keeps the verified prefix — every record before the first damage, the snapshot, the hard state — sets
// aside a copy of the damaged segment and the later segments byte for byte, lowers the watermark and the
// saved commit index to what it kept, and marks the node lost, durably, before it changes anything; the
// leader's probe then repairs the suffix with entries. Read with NodeStorage alone the same damage is
// still refused, with every file left as it was.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "node/storage/format.h"
#include "node/storage/set_aside.h"
#include "node/storage/state_detection.h"
#include "storage_test_support.h"

namespace shmraft::storage {
namespace {

using namespace testing;

constexpr uint64_t kIncarnation = 4321;
constexpr uint64_t kCommit = 40;
constexpr uint64_t kSnapshot = 20;
constexpr Durability kModes[] = {Durability::none, Durability::batch, Durability::always};

Options small(Durability mode) {
  return options_with(mode, 4096);
}

// Entries 1..60 in term 2 over several 4 KiB segments, 40 committed, a snapshot at 20 (the log not
// compacted): everything synced, so the watermark is 60.
void build(const fs::path& node, Durability mode) {
  NodeStorage storage(node, small(mode));
  append_range(storage, 1, 60, 2);
  storage.save_hard_state({2, 1, kCommit});
  storage.sync();
  storage.save_snapshot({kSnapshot, 2}, payload(kSnapshot, 2, 300));
}

uint64_t first_of(const fs::path& segment) {
  return *format::parse_segment_file_name(segment.filename().string());
}
uint64_t last_of(const fs::path& segment) {
  return first_of(segment) + record_offsets(segment).size() - 1;
}
fs::path segment_holding(const fs::path& node, uint64_t index) {
  for (const fs::path& segment : segment_files(node))
    if (first_of(segment) <= index && index <= last_of(segment)) return segment;
  ADD_FAILURE() << "no segment holds entry " << index;
  return {};
}
uint64_t offset_of(const fs::path& node, uint64_t index) {
  const fs::path segment = segment_holding(node, index);
  return record_offsets(segment).at(index - first_of(segment));
}

// A damage shape: applied to a built directory, it returns the first index the log loses.
struct Shape {
  const char* name;
  std::function<uint64_t(const fs::path& node)> apply;
};

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all = {
      {"a bit flip in a committed record, intact records after it",
       [](const fs::path& node) -> uint64_t {
         flip_bit(segment_holding(node, 30), offset_of(node, 30) + sizeof(format::RecordHeader) + 3, 2);
         return 30;
       }},
      {"a zeroed record header, intact records after it",
       [](const fs::path& node) -> uint64_t {
         const format::RecordHeader zero{};
         write_at(segment_holding(node, 31), offset_of(node, 31), &zero, sizeof zero);
         return 31;
       }},
      {"a missing segment between two others",
       [](const fs::path& node) -> uint64_t {
         const fs::path middle = segment_files(node).at(2);
         fs::remove(middle);
         return first_of(middle);
       }},
      {"a corrupt segment header",
       [](const fs::path& node) -> uint64_t {
         const fs::path middle = segment_files(node).at(2);
         flip_bit(middle, offsetof(format::SegmentHeader, first_index), 4);
         return first_of(middle);
       }},
      {"a log zeroed from entry 50, above the commit index and below the watermark",
       [](const fs::path& node) -> uint64_t {
         zero_log_from(node, 50);
         return 50;
       }},
      {"the last segment missing",
       [](const fs::path& node) -> uint64_t {
         const fs::path last = segment_files(node).back();
         fs::remove(last);
         return first_of(last);
       }},
      {"a first segment cut inside its header",
       [](const fs::path& node) -> uint64_t {
         fs::resize_file(segment_files(node).front(), 16);
         return 1;
       }},
      {"a bit flip below the snapshot",
       [](const fs::path& node) -> uint64_t {
         flip_bit(segment_holding(node, 10), offset_of(node, 10) + sizeof(format::RecordHeader) + 1, 0);
         return 10;
       }},
  };
  return all;
}

// Every regular file under `dir` (the lock aside), by path relative to it, with its bytes.
std::map<std::string, std::vector<std::byte>> files_under(const fs::path& dir) {
  std::map<std::string, std::vector<std::byte>> files;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
    const std::string name = fs::relative(entry.path(), dir).string();
    if (entry.is_regular_file() && name != format::kLockFileName) files[name] = read_file(entry.path());
  }
  return files;
}

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

format::MetaSlot newest_slot(const fs::path& node) {
  const fs::path meta = node / "meta";
  format::MetaSlot slot;
  std::memcpy(&slot, read_file(meta).data() + newest_meta_slot(meta) * format::kMetaSlotStride, sizeof slot);
  return slot;
}

NodeStorage open_marked(const fs::path& node, Durability mode, uint64_t incarnation,
                        std::vector<std::string>& notes) {
  return open_or_set_aside(node, small(mode), incarnation, [&](const std::string& n) { notes.push_back(n); });
}

TEST(StoragePrefix, EachLogDamageShapeKeepsTheVerifiedPrefixAndSetsAsideTheRest) {
  for (const Durability mode : kModes) {
    for (const Shape& shape : shapes()) {
      SCOPED_TRACE(std::string(to_string(mode)) + ": " + shape.name);
      TempDir tmp;
      build(tmp.node(), mode);
      std::map<std::string, std::vector<uint64_t>> records_before;  // by segment name, before the damage
      for (const fs::path& segment : segment_files(tmp.node()))
        records_before["log/" + segment.filename().string()] = record_offsets(segment);
      const uint64_t lost_from = shape.apply(tmp.node());
      const uint64_t kept = lost_from <= kSnapshot ? kSnapshot : lost_from - 1;
      const auto damaged = files_under(tmp.node());

      // The library alone refuses, and changes nothing.
      std::string refusal;
      try {
        NodeStorage plain(tmp.node(), small(mode));
        ADD_FAILURE() << "opened without the lost mark";
      } catch (const StorageError& error) {
        EXPECT_EQ(error.kind(), StorageError::Kind::kDamage) << error.what();
        refusal = error.what();
      }
      EXPECT_TRUE(files_under(tmp.node()) == damaged);

      std::vector<std::string> notes;
      {
        NodeStorage storage = open_marked(tmp.node(), mode, kIncarnation, notes);
        EXPECT_TRUE(notes.empty()) << "nothing set aside whole: " << notes.front();
        EXPECT_EQ(storage.recovery().log_damage, refusal) << "the damage named as the refusal names it";
        EXPECT_EQ(storage.last_index(), kept);
        EXPECT_EQ(storage.first_index(), lost_from <= kSnapshot ? kSnapshot + 1 : 1);
        for (uint64_t i = storage.first_index(); i <= kept; ++i) EXPECT_TRUE(entry_is(storage, i, 2)) << i;
        ASSERT_TRUE(storage.snapshot_meta());
        EXPECT_EQ(storage.snapshot_meta()->last_index, kSnapshot) << "the snapshot is kept";
        EXPECT_EQ(storage.hard_state(), (HardState{2, 1, std::min(kCommit, kept), kIncarnation}))
            << "term and vote kept, the commit index down to the kept log, marked lost";
        EXPECT_EQ(newest_slot(tmp.node()).watermark, kept);
        const Detection found = detect_stored_state(storage, 0, kIncarnation);
        EXPECT_EQ(found.state, StoredState::kLost);
        EXPECT_TRUE(contains(found.why, "cut back to entry " + std::to_string(kept))) << found.why;
      }

      // Set aside, byte for byte: meta as it was, and every segment still there with something from the
      // damage on — removed whole, or with its records after the kept ones zeroed.
      const fs::path aside = tmp.node() / ("damaged-" + std::to_string(kIncarnation));
      const auto set_aside = files_under(aside);
      std::map<std::string, std::vector<std::byte>> expected{{"meta", damaged.at("meta")}};
      for (const auto& [name, offsets] : records_before) {
        if (!damaged.contains(name)) continue;
        const uint64_t first = first_of(name);
        const std::vector<std::byte>& bytes = damaged.at(name);
        const bool removed = first >= lost_from;
        const bool zeroed =
            first < lost_from && lost_from - first < offsets.size() &&
            std::any_of(bytes.begin() + static_cast<std::ptrdiff_t>(offsets[lost_from - first]), bytes.end(),
                        [](std::byte b) { return b != std::byte{0}; });
        if (removed || zeroed) expected[name] = bytes;
      }
      EXPECT_TRUE(set_aside == expected)
          << set_aside.size() << " files set aside, " << expected.size() << " expected";
      EXPECT_EQ(mode_of(aside), 0700u);
      for (const fs::directory_entry& entry : fs::recursive_directory_iterator(aside))
        EXPECT_EQ(mode_of(entry.path()), entry.is_directory() ? 0700u : 0600u) << entry.path();

      // What is left opens without the mark option: no damage, still lost, and takes the repair's entries.
      NodeStorage storage(tmp.node(), small(mode));
      EXPECT_EQ(storage.recovery().log_damage, "");
      EXPECT_EQ(storage.last_index(), kept);
      EXPECT_EQ(storage.hard_state().lost, kIncarnation);
      EXPECT_EQ(detect_stored_state(storage, kIncarnation, kIncarnation + 1).state, StoredState::kLost);
      append_range(storage, kept + 1, kept + 5, 3);
      storage.sync();
      EXPECT_TRUE(entry_is(storage, kept + 5, 3));
    }
  }
}

// A crash after the lost mark and the copy, before the damage was removed: the next start finds the damage
// again, sets it aside once more (a directory of its own) and stays lost, now for its own loss.
TEST(StoragePrefix, ACrashBeforeTheDamageIsRemovedFindsItAgain) {
  TempDir tmp;
  build(tmp.node(), Durability::batch);
  const uint64_t lost_from = shapes().front().apply(tmp.node());
  const auto damaged = files_under(tmp.node() / "log");
  std::vector<std::string> notes;
  open_marked(tmp.node(), Durability::batch, kIncarnation, notes);
  for (const auto& [name, bytes] : damaged) write_file(tmp.node() / "log" / name, bytes);  // "not removed"

  NodeStorage storage = open_marked(tmp.node(), Durability::batch, kIncarnation + 1, notes);
  EXPECT_TRUE(notes.empty());
  EXPECT_NE(storage.recovery().log_damage, "");
  EXPECT_EQ(storage.last_index(), lost_from - 1);
  EXPECT_EQ(storage.hard_state().lost, kIncarnation + 1);
  EXPECT_EQ(set_aside_directories(tmp.node()).size(), 2u);
}

// The lost mark, the lowered watermark and commit index are durable before the first damaged byte changes:
// a log ending below the watermark (nothing to cut) is marked lost with the watermark brought down to it.
TEST(StoragePrefix, ALogEndingBelowTheWatermarkIsKeptWholeAndMarked) {
  TempDir tmp;
  build(tmp.node(), Durability::batch);
  fs::remove(segment_files(tmp.node()).back());
  const uint64_t end = last_of(segment_files(tmp.node()).back());
  std::vector<std::string> notes;
  {
    NodeStorage storage = open_marked(tmp.node(), Durability::batch, kIncarnation, notes);
    EXPECT_TRUE(contains(storage.recovery().log_damage, "the watermark 60")) << storage.recovery().log_damage;
    EXPECT_EQ(storage.last_index(), end);
  }
  EXPECT_EQ(newest_slot(tmp.node()).watermark, end);
  EXPECT_EQ(newest_slot(tmp.node()).lost, kIncarnation);
  EXPECT_EQ(files_under(tmp.node() / ("damaged-" + std::to_string(kIncarnation))).size(), 1u)
      << "only meta's copy";
}

}  // namespace
}  // namespace shmraft::storage
