#pragma once
// LogStorage kept in memory: for tests, the simulator and the core benchmark. Copies what it stores.
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "node/raft/log_storage.h"
#include "node/raft/ready.h"

namespace shmraft::raft {

class MemoryStorage final : public LogStorage {
 public:
  MemoryStorage() = default;

  HardState hard_state() const override { return hard_state_; }
  Index first_index() const override { return offset_ + 1; }
  Index last_index() const override { return offset_ + entries_.size(); }
  std::optional<Term> term(Index i) const override;
  void entries(Index lo, Index hi, std::size_t max_bytes, std::vector<Entry>& out) const override;
  Snapshot snapshot() const override { return {snapshot_meta_, snapshot_data_}; }

  void set_hard_state(const HardState& state) { hard_state_ = state; }
  // Drops stored entries with index >= entries[0].index, then appends. entries must be consecutive and
  // start within [first_index(), last_index()+1]; throws std::invalid_argument otherwise.
  void append(std::span<const Entry> entries);
  // Replaces the whole log with `snapshot` (a follower installing the leader's snapshot).
  void apply_snapshot(const Snapshot& snapshot);
  // Records a snapshot of the application's state at `index` (<= last_index()) without dropping entries,
  // with the configuration in force there (Core::conf_state_at(index); empty: the bootstrap voters, for
  // a cluster whose membership never changes).
  void create_snapshot(Index index, Bytes data, const ConfState& conf_state = {});
  // Drops entries up to and including `index`, which must not exceed the latest snapshot's index.
  void compact(Index index);

  // Step 2 of the Ready contract: snapshot, entries, hard state.
  void persist(const Ready& ready);

 private:
  struct Stored {
    Term term;
    EntryType type;
    std::size_t offset;  // into bytes_
    std::size_t size;
  };
  HardState hard_state_;
  Index offset_ = 0;      // index of the entry before entries_[0] (compaction point)
  Term offset_term_ = 0;  // its term
  std::vector<Stored> entries_;
  std::vector<std::byte> bytes_;
  SnapshotMeta snapshot_meta_;
  std::vector<std::byte> snapshot_data_;
};

}  // namespace shmraft::raft
