#pragma once
// The node's durable state seen two ways: the Raft core reads it through raft::LogStorage, and the node
// loop writes each Ready into it (step 2 of the Ready contract in node/raft/core.h).
//
// Mapping between the core's entries and the storage's records: one record per entry, its EntryType in
// the record header's type byte. Compaction point: once a snapshot exists the core sees
// the log as starting right after it, because the storage cannot give the term of an entry before its
// oldest remaining segment; a follower that needs older entries is sent the snapshot.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "node/raft/log_storage.h"
#include "node/raft/ready.h"
#include "node/storage/node_storage.h"

namespace shmraft::node {

class RaftStorage final : public raft::LogStorage {
 public:
  explicit RaftStorage(storage::NodeStorage& storage) : storage_(storage) {}

  // ---- raft::LogStorage ----
  raft::HardState hard_state() const override;
  raft::Index first_index() const override;
  raft::Index last_index() const override { return storage_.last_index(); }
  std::optional<raft::Term> term(raft::Index i) const override;
  void entries(raft::Index lo, raft::Index hi, std::size_t max_bytes,
               std::vector<raft::Entry>& out) const override;
  raft::Snapshot snapshot() const override;

  // ---- writing ----
  // Snapshot, entries (dropping a conflicting suffix first), hard state; not yet synced.
  void write(const raft::Ready& ready);
  // Makes the writes durable per the durability mode. Once per Ready, before messages_after_persist.
  void sync() { storage_.sync(); }

  // How the storage describes a snapshot of the state machine at `index` (applied, so in the log or the
  // latest snapshot) with the configuration in force there.
  storage::SnapshotMeta snapshot_meta(raft::Index index, const raft::ConfState& conf) const;

  storage::NodeStorage& storage() noexcept { return storage_; }

 private:
  storage::NodeStorage& storage_;
  std::vector<storage::LogEntry> batch_;  // reused: no allocation per Ready once grown
  // The latest snapshot's bytes, loaded on first demand (sending it to a lagging follower).
  mutable std::optional<storage::Snapshot> snapshot_cache_;
};

}  // namespace shmraft::node
