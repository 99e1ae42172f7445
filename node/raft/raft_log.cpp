#include "node/raft/raft_log.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace shmraft::raft {

RaftLog::RaftLog(const LogStorage& storage)
    : storage_(storage),
      unstable_offset_(storage.last_index() + 1),
      committed_(storage.hard_state().commit),
      applied_(storage.first_index() - 1),
      persisted_(storage.last_index()) {}

Index RaftLog::first_index() const {
  if (unstable_snapshot_) return unstable_snapshot_->meta.index + 1;
  return storage_.first_index();
}

Index RaftLog::last_index() const {
  if (!unstable_.empty()) return unstable_offset_ + unstable_.size() - 1;
  if (unstable_snapshot_) return unstable_snapshot_->meta.index;
  return storage_.last_index();
}

Term RaftLog::last_term() const {
  return term(last_index()).value_or(0);
}

std::optional<Term> RaftLog::unstable_term(Index i) const {
  if (i >= unstable_offset_ && i - unstable_offset_ < unstable_.size())
    return unstable_[i - unstable_offset_].term;
  return std::nullopt;
}

std::optional<Term> RaftLog::term(Index i) const {
  if (i >= unstable_offset_) return unstable_term(i);
  if (unstable_snapshot_) {
    if (i == unstable_snapshot_->meta.index) return unstable_snapshot_->meta.term;
    return std::nullopt;
  }
  return storage_.term(i);
}

std::optional<Entry> RaftLog::entry(Index i) const {
  if (i < first_index() || i > last_index()) return std::nullopt;
  if (i >= unstable_offset_) return unstable_[i - unstable_offset_];
  std::vector<Entry> one;
  storage_.entries(i, i + 1, 0, one);
  return one.front();
}

SnapshotMeta RaftLog::snapshot_meta() const {
  if (unstable_snapshot_) return unstable_snapshot_->meta;
  const Index compacted = storage_.first_index() - 1;
  return {compacted, storage_.term(compacted).value_or(0)};
}

bool RaftLog::is_up_to_date(Index last_index, Term last_term) const {
  const Term our_term = this->last_term();
  return last_term > our_term || (last_term == our_term && last_index >= this->last_index());
}

RaftLog::LeaderAppend RaftLog::append_from_leader(Index prev, std::span<const Entry> entries, Arena& arena) {
  const Index last = prev + entries.size();
  // Skip the prefix we already hold (duplicates, reordered retransmissions): never truncate on them.
  std::size_t k = 0;
  while (k < entries.size() && matches(entries[k].index, entries[k].term)) ++k;
  if (k == entries.size()) return {last, last + 1};

  const Index conflict = entries[k].index;
  if (conflict <= committed_) {
    // The core refuses such a leader before it gets here (Core::check_committed_agreement throws
    // SafetyViolation with both logs' positions); this guards the method's own contract.
    throw std::logic_error("raft: leader asked to overwrite committed entry " + std::to_string(conflict) +
                           " (commit index " + std::to_string(committed_) + ")");
  }
  if (conflict >= unstable_offset_) {
    unstable_.resize(conflict - unstable_offset_);
  } else {
    unstable_.clear();
    unstable_offset_ = conflict;
  }
  persisted_ = std::min(persisted_, conflict - 1);
  for (; k < entries.size(); ++k) {
    const Entry& e = entries[k];
    unstable_.push_back({e.term, e.index, e.type, arena.copy(e.data)});
  }
  return {last, conflict};
}

Index RaftLog::append_local(Term term, EntryType type, Bytes data, Arena& arena) {
  const Index index = last_index() + 1;
  unstable_.push_back({term, index, type, arena.copy(data)});
  return index;
}

void RaftLog::restore(const Snapshot& snapshot, Arena& arena) {
  unstable_snapshot_ = Snapshot{snapshot.meta, arena.copy(snapshot.data)};
  unstable_.clear();
  unstable_offset_ = snapshot.meta.index + 1;
  committed_ = snapshot.meta.index;
  persisted_ = std::min(persisted_, applied_);
}

Index RaftLog::first_index_of_term_at(Index i) const {
  const std::optional<Term> t = term(i);
  const Index floor = first_index();
  while (i > floor && term(i - 1) == t) --i;
  return i;
}

Index RaftLog::last_index_with_term_at_most(Index i, Term t) const {
  const Index floor = first_index() - 1;
  for (Index j = i;; --j) {
    if (term(j).value_or(0) <= t) return j;
    if (j == floor) break;
  }
  // Everything we still hold is newer than t: point below the compaction point so a snapshot is sent.
  return floor - 1;
}

void RaftLog::slice(Index lo, Index hi, std::size_t max_bytes, std::vector<Entry>& out) const {
  const std::size_t start = out.size();
  std::size_t total = 0;
  if (lo < unstable_offset_) {
    storage_.entries(lo, std::min(hi, unstable_offset_), max_bytes, out);
    for (std::size_t k = start; k < out.size(); ++k) total += out[k].data.size();
    if (out.back().index + 1 < std::min(hi, unstable_offset_)) return;  // storage hit the byte limit
    lo = std::min(hi, unstable_offset_);
  }
  for (Index i = lo; i < hi; ++i) {
    const Entry& e = unstable_[i - unstable_offset_];
    if (out.size() != start && total + e.data.size() > max_bytes) break;
    total += e.data.size();
    out.push_back(e);
  }
}

void RaftLog::mark_all_persisted() {
  const Index last = last_index();
  unstable_snapshot_.reset();
  unstable_.clear();
  unstable_offset_ = last + 1;
  persisted_ = last;
}

}  // namespace shmraft::raft
