#include "node/process/raft_storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

#include "node/storage/format.h"

namespace shmraft::node {

// The storage keeps a configuration as the two node-id bit sets the core's NodeSet is made of, and its
// repair mark.
storage::SnapshotMeta to_storage(const raft::SnapshotMeta& meta) {
  const raft::ConfState& conf = meta.conf_state;
  return {meta.index,           meta.term,      conf.voters.bits(),
          conf.learners.bits(), conf.repairing, conf.repair_incarnation};
}

namespace {

raft::SnapshotMeta to_raft(const storage::SnapshotMeta& meta) {
  return {meta.last_index, meta.last_term,
          raft::ConfState{raft::NodeSet::from_bits(meta.voters), raft::NodeSet::from_bits(meta.learners),
                          meta.repairing, meta.repair_incarnation}};
}

}  // namespace

raft::HardState RaftStorage::hard_state() const {
  const storage::HardState& hs = storage_.hard_state();
  return {hs.term, static_cast<raft::NodeId>(hs.vote), hs.commit, hs.lost};
}

raft::Index RaftStorage::first_index() const {
  const std::optional<storage::SnapshotMeta> snap = storage_.snapshot_meta();
  if (snap && snap->last_index + 1 > storage_.first_index()) return snap->last_index + 1;
  return storage_.first_index();
}

std::optional<raft::Term> RaftStorage::term(raft::Index i) const {
  if (i + 1 < first_index() || i > last_index()) return std::nullopt;
  return storage_.term(i);
}

void RaftStorage::entries(raft::Index lo, raft::Index hi, std::size_t max_bytes,
                          std::vector<raft::Entry>& out) const {
  std::size_t bytes = 0;
  for (raft::Index i = lo; i < hi; ++i) {
    const storage::EntryView view = storage_.entry(i);
    if (view.type > static_cast<uint8_t>(raft::kLastEntryType))
      throw storage::StorageError("log entry " + std::to_string(i) + " has entry type " +
                                  std::to_string(view.type) + ", which this build does not know");
    out.push_back({view.term, i, static_cast<raft::EntryType>(view.type), view.payload});
    bytes += view.payload.size();
    if (bytes > max_bytes) break;
  }
}

raft::Snapshot RaftStorage::snapshot() const {
  const std::optional<storage::SnapshotMeta> meta = storage_.snapshot_meta();
  if (!meta) return {};
  return {to_raft(*meta), {}};  // the bytes travel from the file (SnapshotSender), not through the core
}

void RaftStorage::expect_received(std::filesystem::path file, const storage::SnapshotMeta& meta) {
  received_ = Received{std::move(file), meta};
}

void RaftStorage::install_received(const storage::SnapshotMeta& meta) {
  if (!received_ || received_->meta != meta)
    throw std::logic_error("a Ready carries the snapshot at index " + std::to_string(meta.last_index) +
                           ", which the node did not receive whole");
  replaced_files_ = hold_segments();
  if (const int old = ::open(storage_.snapshot_file().c_str(), O_RDONLY | O_CLOEXEC); old >= 0)
    replaced_files_.emplace_back(old);
  const std::filesystem::path staged = storage_.snapshot_staging_file();
  if (::rename(received_->file.c_str(), staged.c_str()) != 0)
    storage::throw_errno("cannot move the received snapshot to", staged, errno);
  // Renamed over snap/snapshot; the log goes unless it continues the snapshot (Raft's rule).
  storage_.install_snapshot_file(meta);
  if (storage_.options().durability != storage::Durability::none)
    storage::sync_directory(staged.parent_path());
  received_.reset();
}

std::vector<storage::UniqueFd> RaftStorage::hold_segments() const {
  std::vector<storage::UniqueFd> held;
  std::error_code error;  // a directory that cannot be listed: nothing held, the removal frees on the loop
  for (const auto& entry :
       std::filesystem::directory_iterator(storage_.dir() / storage::format::kLogDirName, error)) {
    if (const int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) held.emplace_back(fd);
  }
  return held;
}

void RaftStorage::write(const raft::Ready& ready) {
  if (ready.snapshot) install_received(to_storage(ready.snapshot->meta));
  if (!ready.entries.empty()) {
    const raft::Index first = ready.entries.front().index;
    if (first <= storage_.last_index()) storage_.truncate_suffix(first);
    batch_.clear();
    for (const raft::Entry& e : ready.entries)
      batch_.push_back({e.index, e.term, e.data, static_cast<uint8_t>(e.type)});
    storage_.append(batch_);
  }
  if (ready.hard_state)
    storage_.save_hard_state(
        {ready.hard_state->term, ready.hard_state->vote, ready.hard_state->commit, ready.hard_state->lost});
}

storage::SnapshotMeta RaftStorage::snapshot_meta(raft::Index index, const raft::ConfState& conf) const {
  return to_storage({index, storage_.term(index), conf});
}

}  // namespace shmraft::node
