// The watermark (format.h): `meta` says up to which index the log was durable before the node could
// acknowledge anything, so a log found ending below it lost acknowledged entries — damage, the node lost
// and repaired — while a record torn above it is what a kill mid-append leaves, and is dropped silently. It
// costs no system call in modes none and batch, truncations and snapshot installs lower it first, an
// older `meta` is upgraded on open, and a bit flip in a slot's version or magic number is damage, never a
// "newer format" refusal.
#include <gtest/gtest.h>

#include "ipc/crc32c.h"
#include "node/storage/format.h"
#include "node/storage/set_aside.h"
#include "node/storage/state_detection.h"
#include "storage_test_support.h"

namespace shmraft::storage {
namespace {

using namespace testing;

constexpr Durability kModes[] = {Durability::none, Durability::batch, Durability::always};

Options small(Durability mode) {
  return options_with(mode, 4096);
}

// The slot of `meta` with the higher sequence number.
format::MetaSlot newest_slot(const fs::path& node) {
  const fs::path meta = node / "meta";
  format::MetaSlot slot;
  std::memcpy(&slot, read_file(meta).data() + newest_meta_slot(meta) * format::kMetaSlotStride, sizeof slot);
  return slot;
}

// A log of entries 1..count in term 2, `commit` of them committed, synced: all acknowledgeable.
void build(const fs::path& node, Durability mode, uint64_t count, uint64_t commit) {
  NodeStorage storage(node, small(mode));
  append_range(storage, 1, count, 2);
  storage.save_hard_state({2, 1, commit});
  storage.sync();
}

StorageError open_failure(const fs::path& node, Durability mode) {
  try {
    NodeStorage storage(node, small(mode));
  } catch (const StorageError& error) {
    return error;
  }
  return StorageError("(opened)");
}

TEST(StorageWatermark, EachSyncRaisesItToTheLogsEnd) {
  for (const Durability mode : kModes) {
    SCOPED_TRACE(std::string(to_string(mode)));
    TempDir tmp;
    NodeStorage storage(tmp.node(), small(mode));
    append_range(storage, 1, 30, 2);
    storage.sync();  // a Ready with entries and no new hard state
    EXPECT_EQ(newest_slot(tmp.node()).watermark, 30u);
    append_range(storage, 31, 40, 2);
    storage.save_hard_state({2, 1, 35});
    storage.sync();
    EXPECT_EQ(newest_slot(tmp.node()).watermark, 40u);
    EXPECT_EQ(newest_slot(tmp.node()).commit, 35u);
  }
}

// The issue-14 hole: entries above the commit index were synced (so acknowledged, and perhaps counted by a
// leader towards a commit), then lost while the node was stopped. Every way the tail can go is damage.
TEST(StorageWatermark, ATailLostAboveTheCommitIndexIsDamage) {
  struct Loss {
    const char* name;
    std::function<void(const fs::path&)> apply;
  };
  const Loss losses[] = {
      {"zeroed from entry 50", [](const fs::path& node) { zero_log_from(node, 50); }},
      {"last segment missing", [](const fs::path& node) { fs::remove(segment_files(node).back()); }},
      {"last segment cut inside its first record",
       [](const fs::path& node) {
         const fs::path last = segment_files(node).back();
         fs::resize_file(last, record_offsets(last).front() + 20);
       }},
      {"every segment missing",
       [](const fs::path& node) {
         for (const fs::path& segment : segment_files(node)) fs::remove(segment);
       }},
  };
  for (const Durability mode : kModes) {
    for (const Loss& loss : losses) {
      SCOPED_TRACE(std::string(to_string(mode)) + ": " + loss.name);
      TempDir tmp;
      build(tmp.node(), mode, 60, 20);
      ASSERT_GT(*format::parse_segment_file_name(segment_files(tmp.node()).back().filename().string()), 20u)
          << "the last segment must hold only entries above the commit index";
      loss.apply(tmp.node());
      const StorageError error = open_failure(tmp.node(), mode);
      EXPECT_EQ(error.kind(), StorageError::Kind::kDamage) << error.what();
      EXPECT_TRUE(contains(error.what(), "the watermark 60")) << error.what();

      // What the node process does with it: keeps what is left, lost until repaired (prefix_test.cpp).
      std::vector<std::string> notes;
      NodeStorage kept = open_or_set_aside(tmp.node(), small(mode), 77,
                                           [&](const std::string& note) { notes.push_back(note); });
      EXPECT_TRUE(notes.empty()) << "nothing set aside whole";
      EXPECT_LT(kept.last_index(), 60u);
      EXPECT_TRUE(contains(kept.recovery().log_damage, "the watermark 60")) << kept.recovery().log_damage;
      EXPECT_EQ(detect_stored_state(kept, 0, 78).state, StoredState::kLost);
    }
  }
}

// A kill in the middle of a Ready, after its entries were stored and before the sync that would let the
// node acknowledge them: whatever is left of them above the watermark goes silently, as before.
TEST(StorageWatermark, ARecordTornAboveTheWatermarkIsDroppedSilently) {
  for (const Durability mode : kModes) {
    SCOPED_TRACE(std::string(to_string(mode)));
    TempDir tmp;
    build(tmp.node(), mode, 40, 10);
    run_and_die_before_sync(tmp.node(), small(mode),
                            [](NodeStorage& storage) { append_range(storage, 41, 45, 2); });
    EXPECT_EQ(newest_slot(tmp.node()).watermark, 40u) << "nothing acknowledged them";
    zero_log_from(tmp.node(), 43);
    {
      NodeStorage storage(tmp.node(), small(mode));
      EXPECT_EQ(storage.last_index(), 42u);
      EXPECT_TRUE(entry_is(storage, 42, 2));
      EXPECT_EQ(newest_slot(tmp.node()).watermark, 42u)
          << "what recovery keeps may be acknowledged without being written again: covered at once";
    }
    zero_log_from(tmp.node(), 42);
    EXPECT_EQ(open_failure(tmp.node(), mode).kind(), StorageError::Kind::kDamage);
  }
}

// No system call for the watermark in any mode: a Ready costs what it cost before (none: nothing; batch:
// the log's msync; always: one per record).
TEST(StorageWatermark, CostsNoSystemCall) {
  for (const Durability mode : kModes) {
    SCOPED_TRACE(std::string(to_string(mode)));
    TempDir tmp;
    NodeStorage storage(tmp.node(), options_with(mode));
    append_range(storage, 1, 5, 2, 5);
    storage.save_hard_state({2, 1, 0});
    storage.sync();
    for (uint64_t ready = 0; ready < 10; ++ready) {
      const StorageStats before = storage.stats();
      const uint64_t first = storage.last_index() + 1;
      append_range(storage, first, first + 2, 2, 3);  // three entries in one call
      storage.save_hard_state({2, 1, first});         // a new commit index: no promise
      storage.sync();
      const uint64_t used = storage.stats().flushes - before.flushes;
      ASSERT_EQ(storage.stats().segments_created, before.segments_created) << "one segment holds them all";
      switch (mode) {
        case Durability::none:
          EXPECT_EQ(used, 0u);
          break;
        case Durability::batch:
          EXPECT_EQ(used, 1u) << "the log's msync only";
          break;
        case Durability::always:
          EXPECT_EQ(used, 3u) << "the three records";
          break;
      }
    }
    EXPECT_EQ(newest_slot(tmp.node()).watermark, storage.last_index());
  }
}

// A truncation lowers the watermark, durably, before it removes anything: the log left behind — also
// by a crash before the removal — never ends below it.
TEST(StorageWatermark, ATruncationLowersItFirst) {
  for (const Durability mode : kModes) {
    SCOPED_TRACE(std::string(to_string(mode)));
    TempDir tmp;
    build(tmp.node(), mode, 60, 10);
    {
      NodeStorage storage(tmp.node(), small(mode));
      const uint64_t flushes = storage.stats().flushes;
      storage.truncate_suffix(25);
      EXPECT_EQ(newest_slot(tmp.node()).watermark, 24u);
      if (mode != Durability::none) {
        EXPECT_GT(storage.stats().flushes, flushes);
      }
      append_range(storage, 25, 30, 3);
      storage.sync();
    }
    NodeStorage storage(tmp.node(), small(mode));
    EXPECT_EQ(storage.last_index(), 30u);
    EXPECT_TRUE(entry_is(storage, 30, 3));
    EXPECT_TRUE(storage.recovery().notes.empty());
  }
}

// A snapshot that the log does not continue discards the log: the watermark comes down to the snapshot
// first. One the log continues leaves it where it is.
TEST(StorageWatermark, ASnapshotThatReplacesTheLogLowersItFirst) {
  TempDir tmp;
  build(tmp.node(), Durability::batch, 60, 10);
  {
    NodeStorage storage(tmp.node(), small(Durability::batch));
    storage.save_snapshot({10, 2}, payload(10, 2, 100));  // continues: entries 11.. stay
    EXPECT_EQ(newest_slot(tmp.node()).watermark, 60u);
    storage.save_snapshot({30, 5}, payload(30, 5, 100));  // another term at 30: the log goes
    EXPECT_EQ(newest_slot(tmp.node()).watermark, 30u);
    EXPECT_EQ(storage.last_index(), 30u);
  }
  NodeStorage storage(tmp.node(), small(Durability::batch));
  EXPECT_EQ(storage.last_index(), 30u);
  EXPECT_EQ(storage.snapshot_meta()->last_index, 30u);
}

// A `meta` of format version 2 (an older build's: no watermark) is read, and upgraded by the open; from
// then on a lost tail is found.
TEST(StorageWatermark, AVersionTwoMetaIsUpgradedOnOpen) {
  TempDir tmp;
  build(tmp.node(), Durability::batch, 40, 10);
  format::MetaSlotV2 old;
  old.sequence = 7;
  old.term = 2;
  old.vote = 1;
  old.commit = 10;
  old.crc = format::meta_slot_crc(old);
  std::vector<std::byte> meta(format::kMetaFileBytes);
  std::memcpy(meta.data(), &old, sizeof old);
  write_file(tmp.node() / "meta", meta);
  {
    NodeStorage storage(tmp.node(), small(Durability::batch));
    EXPECT_EQ(storage.hard_state(), (HardState{2, 1, 10}));
    ASSERT_EQ(storage.recovery().notes.size(), 1u);
    EXPECT_TRUE(contains(storage.recovery().notes[0],
                         "meta: hard state of format version 2 upgraded to version 3, with the log's end "
                         "(entry 40) as the watermark"))
        << storage.recovery().notes[0];
    const format::MetaSlot slot = newest_slot(tmp.node());
    EXPECT_EQ(slot.version, format::kMetaVersion);
    EXPECT_EQ(slot.watermark, 40u);
    EXPECT_EQ(slot.sequence, 8u);
  }
  zero_log_from(tmp.node(), 30);
  EXPECT_EQ(open_failure(tmp.node(), Durability::batch).kind(), StorageError::Kind::kDamage);
}

// A bit flip in the version or the magic number of the newest slot is damage: the slot is skipped (and
// the node lost, as for any skipped slot), never taken for a file of a newer build. A slot a newer build
// wrote — any length, its CRC holding — is refused, naming its version.
TEST(StorageWatermark, ABitFlipInAVersionIsDamageButANewerSlotIsRefused) {
  TempDir tmp;
  build(tmp.node(), Durability::batch, 20, 10);
  {
    NodeStorage storage(tmp.node(), small(Durability::batch));
    storage.save_hard_state({3, 2, 15});  // the two slots now differ
  }
  const fs::path meta = tmp.node() / "meta";
  const std::vector<std::byte> original = read_file(meta);
  const std::size_t newest = newest_meta_slot(meta);
  for (const std::size_t field : {offsetof(format::MetaSlot, magic), offsetof(format::MetaSlot, version),
                                  format::kMetaSlotBytesOffset}) {
    for (std::size_t bit = 0; bit < 32; ++bit) {
      SCOPED_TRACE("field at " + std::to_string(field) + ", bit " + std::to_string(bit));
      flip_bit(meta, newest * format::kMetaSlotStride + field + bit / 8, static_cast<int>(bit % 8));
      {
        NodeStorage storage(tmp.node(), small(Durability::batch));
        EXPECT_EQ(storage.recovery().hard_state_slots_skipped, 1u);
        EXPECT_EQ(storage.hard_state(), (HardState{2, 1, 10})) << "the older slot";
      }
      write_file(meta, original);
    }
  }
  // A newer build's slot, 80 bytes long: its CRC, in its last 4 bytes, holds.
  std::byte slot[80] = {};
  format::MetaSlot head;
  head.version = format::kMetaVersion + 1;
  head.slot_bytes = sizeof slot;
  head.sequence = 99;
  std::memcpy(slot, &head, sizeof head);
  const uint32_t crc = ipc::crc32c(slot, sizeof slot - 4);
  std::memcpy(slot + sizeof slot - 4, &crc, sizeof crc);
  write_at(meta, newest * format::kMetaSlotStride, slot, sizeof slot);
  const StorageError error = open_failure(tmp.node(), Durability::batch);
  EXPECT_EQ(error.kind(), StorageError::Kind::kRefusal);
  EXPECT_TRUE(contains(error.what(), "has format version " + std::to_string(format::kMetaVersion + 1) +
                                         ", newer than this build understands"))
      << error.what();
}

}  // namespace
}  // namespace shmraft::storage
