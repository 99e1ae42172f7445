// The lost mark (HardState::lost) survives reopening and power loss like term and vote, a hard state
// written by an older build (slot version 1) reads as not lost, and detect_stored_state tells a fresh
// directory from an intact one and from one whose state is gone.
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
    EXPECT_EQ(detect_stored_state(storage, 0, 5), StoredState::kFresh) << "a new member";
    EXPECT_EQ(storage.hard_state().lost, 0u);
  }
  TempDir tmp;
  {
    NodeStorage storage(tmp.node());
    EXPECT_EQ(detect_stored_state(storage, 12, 13), StoredState::kLost) << "wiped: an earlier start ran";
    EXPECT_EQ(storage.hard_state().lost, 13u);
  }
  {
    // Killed before the core's first persist: the mark was stored by the detection itself.
    NodeStorage storage(tmp.node());
    EXPECT_EQ(detect_stored_state(storage, 13, 14), StoredState::kLost);
    EXPECT_EQ(storage.hard_state().lost, 13u) << "the repair names the start that found it lost";
    storage.save_hard_state({2, 0, 0, 0});  // repaired
    storage.sync();
  }
  NodeStorage storage(tmp.node());
  EXPECT_EQ(detect_stored_state(storage, 14, 15), StoredState::kIntact);
  EXPECT_STREQ(to_string(StoredState::kLost), "lost");
}

// A directory an earlier start created but never wrote to: that start promised nothing.
TEST(StorageLostState, AnEmptyDirectoryAnEarlierStartCreatedIsIntact) {
  TempDir tmp;
  { NodeStorage storage(tmp.node()); }
  NodeStorage storage(tmp.node());
  EXPECT_EQ(detect_stored_state(storage, 7, 8), StoredState::kIntact);
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
