#pragma once
// The node's durable state seen two ways: the Raft core reads it through raft::LogStorage, and the node
// loop writes each Ready into it (step 2 of the Ready contract in node/raft/core.h).
//
// Mapping between the core's entries and the storage's records: one record per entry, its EntryType in
// the record header's type byte. Compaction point: once a snapshot exists the core sees
// the log as starting right after it, because the storage cannot give the term of an entry before its
// oldest remaining segment; a follower that needs older entries is sent the snapshot.
//
// Snapshots never pass through the core as bytes (they may be GiBs): snapshot() gives the core the
// latest snapshot's metadata and no data, and the node streams the file itself (SnapshotSender reads it
// a chunk at a time). A follower's node receives a leader's image into a file (SnapshotReceiver),
// restores it off the loop, and only then steps the core with a data-less InstallSnapshot, after
// expect_received(): the Ready's snapshot is then that file, renamed into place here, never written.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "node/raft/log_storage.h"
#include "node/raft/ready.h"
#include "node/storage/file.h"
#include "node/storage/node_storage.h"

namespace shmraft::node {

// How the storage describes a snapshot the core describes (the configuration as node-id bit sets).
storage::SnapshotMeta to_storage(const raft::SnapshotMeta& meta);

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
  // Snapshot, entries (dropping a conflicting suffix first), hard state; not yet synced. A Ready's
  // snapshot must be the one expect_received() announced (std::logic_error otherwise).
  void write(const raft::Ready& ready);
  // A whole snapshot file, flushed, in the storage's format, holding the snapshot `meta`: if the core
  // takes the snapshot, write() moves it into snap/ (a rename; in durability modes batch and always snap/
  // is fsynced at once, before anything depends on it) instead of writing bytes.
  void expect_received(std::filesystem::path file, const storage::SnapshotMeta& meta);
  // Whether write() has not taken the file announced (the core was past it); forget it with
  // forget_received().
  bool received_pending() const noexcept { return received_.has_value(); }
  void forget_received() noexcept { received_.reset(); }
  // The files the last received snapshot replaced (the old snapshot, the log's segments), held open so
  // that removing them freed no blocks (a GiB takes ext4 with discard about a second): the caller closes
  // them off the loop.
  std::vector<storage::UniqueFd> take_replaced_files() noexcept { return std::move(replaced_files_); }
  // Every log segment file, held open: one that compact() removes meanwhile frees its blocks only when
  // these are closed, which the caller does off the loop.
  std::vector<storage::UniqueFd> hold_segments() const;
  // Makes the writes durable per the durability mode. Once per Ready, before messages_after_persist.
  void sync() { storage_.sync(); }

  // How the storage describes a snapshot of the state machine at `index` (applied, so in the log or the
  // latest snapshot) with the configuration in force there.
  storage::SnapshotMeta snapshot_meta(raft::Index index, const raft::ConfState& conf) const;

  storage::NodeStorage& storage() noexcept { return storage_; }

 private:
  storage::NodeStorage& storage_;
  struct Received {
    std::filesystem::path file;
    storage::SnapshotMeta meta;
  };
  void install_received(const storage::SnapshotMeta& meta);

  std::vector<storage::LogEntry> batch_;  // reused: no allocation per Ready once grown
  std::optional<Received> received_;
  std::vector<storage::UniqueFd> replaced_files_;
};

}  // namespace shmraft::node
