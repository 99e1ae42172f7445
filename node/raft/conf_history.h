#pragma once
// The configuration in force at each point of a node's log. Dissertation §4.1: a server uses the latest
// configuration in its log, whether or not that entry is committed — so when a new leader truncates an
// uncommitted suffix, the changes in it are undone with it. This keeps the configuration set by each
// kConfChange entry the log holds above what was applied (plus the one in force there); they are rare,
// so a short vector suffices.
#include <vector>

#include "node/raft/conf_state.h"
#include "node/raft/types.h"

namespace shmraft::raft {

class ConfHistory {
 public:
  // The log starts after `index` with `conf` in force (a snapshot's, or the bootstrap configuration).
  void reset(Index index, const ConfState& conf);
  // The kConfChange entry at `index` (above every one recorded) sets `conf`.
  void record(Index index, const ConfState& conf);
  // The entries from `index` on were removed from the log; returns whether current() changed.
  bool truncate_from(Index index);
  // Entries up to `index` were applied: forgets the changes that a later one at or below it superseded.
  void forget_through(Index index);

  const ConfState& current() const noexcept { return changes_.back().conf; }
  // The index of the entry that set current() (or of the snapshot/bootstrap point).
  Index current_index() const noexcept { return changes_.back().index; }
  // The configuration in force once entry `index` is in the log; `index` must not be below the point
  // forget_through() was last given.
  const ConfState& at(Index index) const noexcept;

 private:
  struct Change {
    Index index;
    ConfState conf;
  };
  std::vector<Change> changes_{Change{0, {}}};  // ascending by index, never empty
};

}  // namespace shmraft::raft
