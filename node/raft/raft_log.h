#pragma once
// The core's log: persisted entries read through LogStorage, plus the unstable tail (entries and possibly
// a snapshot) that the application has not yet reported persisted. Read accessors are public for
// invariant checkers; mutation is the core's business.
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "node/raft/arena.h"
#include "node/raft/log_storage.h"
#include "node/raft/types.h"

namespace shmraft::raft {

class RaftLog {
 public:
  explicit RaftLog(const LogStorage& storage);

  // ---- read view (valid for invariant checkers at any time) ----
  Index first_index() const;  // first entry held (persisted or unstable)
  Index last_index() const;   // last entry held, including unstable ones
  Term last_term() const;
  std::optional<Term> term(Index i) const;  // for first_index()-1 <= i <= last_index()
  bool matches(Index i, Term t) const { return term(i) == t; }
  // The entry at `i` (first_index() <= i <= last_index()); data valid until the core's next mutation.
  std::optional<Entry> entry(Index i) const;
  Index committed() const noexcept { return committed_; }
  Index applied() const noexcept { return applied_; }
  // Highest index the application reported persisted (advance()).
  Index persisted() const noexcept { return persisted_; }
  std::span<const Entry> unstable_entries() const noexcept { return unstable_; }
  // Index of unstable_entries()[0]; entries below it are read from storage.
  Index unstable_offset() const noexcept { return unstable_offset_; }
  const std::optional<Snapshot>& unstable_snapshot() const noexcept { return unstable_snapshot_; }
  // Index/term of the newest snapshot this log knows of (persisted compaction point or unstable one).
  SnapshotMeta snapshot_meta() const;
  const LogStorage& storage() const noexcept { return storage_; }

  // ---- mutation (used by Core) ----
  void set_committed(Index i) noexcept { committed_ = i; }
  void set_applied(Index i) noexcept { applied_ = i; }
  // §5.4.1: candidate's log at least as up to date as ours.
  bool is_up_to_date(Index last_index, Term last_term) const;
  // Appends leader entries after prev (already checked to match), truncating the first conflicting
  // suffix; copies payloads into `arena`.
  struct LeaderAppend {
    Index last;       // the index of the last entry sent (prev + entries.size())
    Index first_new;  // the first entry written (the log was cut there); last + 1 if all were held
  };
  LeaderAppend append_from_leader(Index prev, std::span<const Entry> entries, Arena& arena);
  // Appends an entry at last_index()+1 in the current term (leader path).
  Index append_local(Term term, EntryType type, Bytes data, Arena& arena);
  // Replaces the log with a snapshot received from the leader.
  void restore(const Snapshot& snapshot, Arena& arena);
  // The first index of the run of entries with term equal to term(i), scanning back no further than
  // first_index() (conflict hints, §5.3).
  Index first_index_of_term_at(Index i) const;
  // The largest index <= i whose term is <= t (leader side of the conflict-term hint).
  Index last_index_with_term_at_most(Index i, Term t) const;
  // Appends entries [lo, hi) capped at max_bytes (at least one) to `out`; data valid until the next
  // mutation of the log or storage. Requires first_index() <= lo < hi <= last_index()+1.
  void slice(Index lo, Index hi, std::size_t max_bytes, std::vector<Entry>& out) const;
  // The application persisted everything unstable (advance()); the arena holding it is about to reset.
  void mark_all_persisted();

 private:
  std::optional<Term> unstable_term(Index i) const;

  const LogStorage& storage_;
  std::vector<Entry> unstable_;  // entries from unstable_offset_ on; data in the core's arena
  Index unstable_offset_ = 1;
  std::optional<Snapshot> unstable_snapshot_;
  Index committed_ = 0;
  Index applied_ = 0;
  Index persisted_ = 0;
};

}  // namespace shmraft::raft
