#pragma once
// Node-local Raft invariants, checked after each Ready when a host asks for it (the tests and the
// simulator always, a node with --check-invariants), in the manner of LogCabin's
// RaftConsensusInvariants.cc. What one node can check about itself, without seeing the others:
//
//   * the commit index never passes the last log index, nor the applied index the commit index;
//   * the term never falls;
//   * within one term the vote, once cast, never changes (§5.2: one vote per term);
//   * committed entries are handed out in order, each exactly once, right after what was applied
//     (or after the snapshot the same Ready installs).
//
// A violation throws InvariantViolation naming the rule and the values that broke it.
#include <optional>
#include <stdexcept>

#include "node/raft/ready.h"
#include "node/raft/types.h"

namespace shmraft::raft {

class Core;

class InvariantViolation : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// What the invariants look at, taken from a core after its advance().
struct LocalState {
  Term term = 0;
  NodeId vote = kNoNode;
  Index commit = 0;
  Index last_index = 0;
  Index applied = 0;
};
LocalState local_state(const Core& core);

class ReadyInvariants {
 public:
  // Before a Ready is handled (its spans are gone after advance()): the apply order.
  void check_ready(const Ready& ready);
  // After advance(): the state rules, against the state after the previous Ready (or the first state
  // seen, which is taken as given).
  void check_state(const LocalState& state);

 private:
  std::optional<LocalState> last_;
};

}  // namespace shmraft::raft
