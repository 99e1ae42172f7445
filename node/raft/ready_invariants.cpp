#include "node/raft/ready_invariants.h"

#include <string>

#include "node/raft/core.h"

namespace shmraft::raft {
namespace {

[[noreturn]] void violated(const std::string& what) {
  throw InvariantViolation("raft invariant violated: " + what);
}

}  // namespace

LocalState local_state(const Core& core) {
  return {core.term(), core.vote(), core.commit_index(), core.log().last_index(), core.applied_index()};
}

void ReadyInvariants::check_ready(const Ready& ready) {
  if (!last_ || ready.committed_entries.empty()) return;
  Index expected = (ready.snapshot ? ready.snapshot->meta.index : last_->applied) + 1;
  for (const Entry& e : ready.committed_entries) {
    if (e.index != expected)
      violated("committed entries out of order: entry " + std::to_string(e.index) + " handed out where " +
               std::to_string(expected) + " was due");
    ++expected;
  }
}

void ReadyInvariants::check_state(const LocalState& state) {
  if (state.commit > state.last_index)
    violated("commit index " + std::to_string(state.commit) + " is beyond the last log index " +
             std::to_string(state.last_index));
  if (state.applied > state.commit)
    violated("applied index " + std::to_string(state.applied) + " is beyond the commit index " +
             std::to_string(state.commit));
  if (last_) {
    if (state.term < last_->term)
      violated("the term fell from " + std::to_string(last_->term) + " to " + std::to_string(state.term));
    if (state.term == last_->term && last_->vote != kNoNode && state.vote != last_->vote)
      violated("the vote changed within term " + std::to_string(state.term) + " from " +
               std::to_string(last_->vote) + " to " + std::to_string(state.vote));
    if (state.applied < last_->applied)
      violated("the applied index fell from " + std::to_string(last_->applied) + " to " +
               std::to_string(state.applied));
  }
  last_ = state;
}

}  // namespace shmraft::raft
