// The lost mark (HardState::lost) survives reopening and power loss like term and vote, a hard state
// written by an older build (slot version 1) reads as not lost, and detect_stored_state tells a fresh
// directory from an intact one and from one whose state is gone or whose hard state is damaged.
#include <gtest/gtest.h>

#include "node/storage/format.h"
#include "node/storage/state_detection.h"
#include "storage_test_support.h"

namespace shmraft::storage {
namespace {

using namespace testing;

TEST(StorageLostState, LostMarkSurvivesReopeningAndIsFlushedInBatchMode) {
  TempDir tmp;
  {
    NodeStorage storage(tmp.node(), options_with(Durability::batch));
    const uint64_t flushes = storage.stats().flushes;
    storage.save_hard_state({0, 0, 0, 77});
    storage.sync();
    EXPECT_GT(storage.stats().flushes, flushes)
        << "a new lost mark is a promise: flushed before anything leaves";
  }
  {
    NodeStorage storage(tmp.node(), options_with(Durability::batch));
    EXPECT_EQ(storage.hard_state(), (HardState{0, 0, 0, 77}));
    storage.save_hard_state({3, 0, 0, 0});  // repaired
    storage.sync();
  }
  NodeStorage storage(tmp.node(), options_with(Durability::batch));
  EXPECT_EQ(storage.hard_state(), (HardState{3, 0, 0, 0}));
}

TEST(StorageLostState, VersionOneSlotReadsAsNotLost) {
  TempDir tmp;
  { NodeStorage storage(tmp.node()); }
  const std::filesystem::path meta = tmp.node() / "meta";
  format::MetaSlotV1 slot;
  slot.sequence = 9;
  slot.term = 4;
  slot.vote = 2;
  slot.crc = format::meta_slot_crc(slot);
  write_at(meta, format::kMetaSlotStride, &slot, sizeof slot);
  NodeStorage storage(tmp.node());
  EXPECT_EQ(storage.hard_state(), (HardState{4, 2, 0, 0}));
  EXPECT_EQ(storage.recovery().hard_state_slots_skipped, 0u);
}

TEST(StorageLostState, DetectsFreshIntactAndLostDirectories) {
  {
    TempDir tmp;
    NodeStorage storage(tmp.node());
    EXPECT_EQ(detect_stored_state(storage, 0, 5).state, StoredState::kFresh) << "a new member";
    EXPECT_EQ(storage.hard_state().lost, 0u);
  }
  TempDir tmp;
  {
    NodeStorage storage(tmp.node());
    EXPECT_EQ(detect_stored_state(storage, 12, 13).state, StoredState::kLost)
        << "wiped: an earlier start ran";
    EXPECT_EQ(storage.hard_state().lost, 13u);
  }
  {
    // Killed before the core's first persist: the mark was stored by the detection itself.
    NodeStorage storage(tmp.node());
    EXPECT_EQ(detect_stored_state(storage, 13, 14).state, StoredState::kLost);
    EXPECT_EQ(storage.hard_state().lost, 13u) << "the repair names the start that found it lost";
    storage.save_hard_state({2, 0, 0, 0});  // repaired
    storage.sync();
  }
  NodeStorage storage(tmp.node());
  EXPECT_EQ(detect_stored_state(storage, 14, 15).state, StoredState::kIntact);
  EXPECT_STREQ(to_string(StoredState::kLost), "lost");
}

// A directory an earlier start created but never wrote to: that start promised nothing.
TEST(StorageLostState, AnEmptyDirectoryAnEarlierStartCreatedIsIntact) {
  TempDir tmp;
  { NodeStorage storage(tmp.node()); }
  NodeStorage storage(tmp.node());
  EXPECT_EQ(detect_stored_state(storage, 7, 8).state, StoredState::kIntact);
}

// The newest hard-state slot may be the damaged one: the older term and vote cannot be trusted, so the node
// is lost, durably, the mark written where the damaged slot was. Every durability mode: in batch and
// always the mark is flushed before detection returns.
TEST(StorageLostState, ASkippedHardStateSlotMakesTheNodeLost) {
  for (const Durability mode : {Durability::none, Durability::batch, Durability::always}) {
    SCOPED_TRACE(std::string(to_string(mode)));
    TempDir tmp;
    {
      NodeStorage storage(tmp.node(), options_with(mode));
      append_range(storage, 1, 10, 2);
      storage.save_hard_state({2, 1, 5});
      storage.sync();
      storage.save_hard_state({3, 2, 6});  // a new vote: flushed in batch and always
      storage.sync();
    }
    const fs::path meta = tmp.node() / "meta";
    flip_bit(meta, newest_meta_slot(meta) * format::kMetaSlotStride + offsetof(format::MetaSlot, vote), 1);
    {
      NodeStorage storage(tmp.node(), options_with(mode));
      ASSERT_EQ(storage.hard_state(), (HardState{2, 1, 5})) << "fell back to the older slot";
      const uint64_t flushes = storage.stats().flushes;
      const Detection found = detect_stored_state(storage, 30, 31);
      EXPECT_EQ(found.state, StoredState::kLost);
      EXPECT_TRUE(contains(found.why, "1 damaged hard-state slot(s) skipped")) << found.why;
      EXPECT_EQ(storage.hard_state(), (HardState{2, 1, 5, 31}));
      if (mode != Durability::none) {
        EXPECT_GT(storage.stats().flushes, flushes) << "the mark is a promise";
      }
    }
    NodeStorage storage(tmp.node(), options_with(mode));
    EXPECT_EQ(storage.recovery().hard_state_slots_skipped, 0u) << "the mark replaced the damaged slot";
    EXPECT_EQ(storage.hard_state(), (HardState{2, 1, 5, 31}));
    EXPECT_EQ(detect_stored_state(storage, 31, 32).state, StoredState::kLost) << "still lost until repaired";
  }
}

// With Options::lost_mark_on_damage (what open_or_set_aside sets) the open itself replaces the
// damaged slot by the mark: a crash before the node's own detection still leaves it lost.
TEST(StorageLostState, TheOpenCanStoreTheMarkInPlaceOfTheDamagedSlot) {
  TempDir tmp;
  {
    NodeStorage storage(tmp.node(), options_with(Durability::batch));
    append_range(storage, 1, 10, 2);
    storage.save_hard_state({2, 1, 5});
    storage.sync();
    storage.save_hard_state({3, 2, 6});
    storage.sync();
  }
  const fs::path meta = tmp.node() / "meta";
  flip_bit(meta, newest_meta_slot(meta) * format::kMetaSlotStride + offsetof(format::MetaSlot, term), 6);
  Options marking = options_with(Durability::batch);
  marking.lost_mark_on_damage = 55;
  {
    NodeStorage storage(tmp.node(), marking);
    EXPECT_EQ(storage.recovery().hard_state_slots_skipped, 1u);
    EXPECT_EQ(storage.hard_state(), (HardState{2, 1, 5, 55}));
  }  // "killed" before detect_stored_state
  NodeStorage storage(tmp.node(), options_with(Durability::batch));
  EXPECT_EQ(storage.recovery().hard_state_slots_skipped, 0u);
  EXPECT_EQ(storage.hard_state(), (HardState{2, 1, 5, 55}));
  EXPECT_EQ(detect_stored_state(storage, 60, 61).state, StoredState::kLost);
}

// A node already lost (or repaired since) whose newest slot is damaged: the older slot's mark may name a
// loss a repair already cleared, so this is a new loss with this start's mark.
TEST(StorageLostState, ASkippedSlotOverAnOlderLostMarkIsANewLoss) {
  TempDir tmp;
  {
    NodeStorage storage(tmp.node());
    append_range(storage, 1, 10, 2);
    storage.save_hard_state({2, 0, 5, 40});  // lost at start 40
    storage.sync();
    storage.save_hard_state({3, 1, 6, 0});  // repaired, then voted
    storage.sync();
  }
  const fs::path meta = tmp.node() / "meta";
  flip_bit(meta, newest_meta_slot(meta) * format::kMetaSlotStride + offsetof(format::MetaSlot, term), 0);
  NodeStorage storage(tmp.node());
  ASSERT_EQ(storage.hard_state(), (HardState{2, 0, 5, 40}));
  EXPECT_EQ(detect_stored_state(storage, 41, 42).state, StoredState::kLost);
  EXPECT_EQ(storage.hard_state().lost, 42u) << "a repair of loss 40 must not clear this one";
}

// Snapshot files written before the repair mark (format version 2, a 64-byte header): still read, as
// recording no repair.
TEST(StorageLostState, VersionTwoSnapshotReadsWithoutARepair) {
  TempDir tmp;
  {
    NodeStorage storage(tmp.node());
    append_range(storage, 1, 10, 1);
    storage.save_snapshot({10, 1}, {});
  }
  const std::vector<std::byte> data = payload(10, 1, 40);
  write_snapshot_file(
      tmp.node(),
      format::SnapshotHeaderV2{.last_index = 10, .last_term = 1, .voters = 0b1110, .data_bytes = data.size()},
      data);

  NodeStorage storage(tmp.node());
  EXPECT_EQ(*storage.snapshot_meta(), (SnapshotMeta{.last_index = 10, .last_term = 1, .voters = 0b1110}));
  EXPECT_EQ(storage.load_snapshot()->data, data);
}

}  // namespace
}  // namespace shmraft::storage
