#include "node/raft/progress_tracker.h"

#include <algorithm>

namespace shmraft::raft {

ProgressTracker::ProgressTracker(JointConfig voters, std::size_t max_inflight_msgs)
    : voters_(std::move(voters)), match_scratch_(voters_.scratch_size()) {
  members_.reserve(voters_.voters().size());
  for (const NodeId id : voters_.voters())
    members_.push_back(Member{.id = id, .progress = Progress{.inflights = Inflights(max_inflight_msgs)}});
}

ProgressTracker::Member* ProgressTracker::find(NodeId id) noexcept {
  for (Member& m : members_) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

const ProgressTracker::Member* ProgressTracker::find(NodeId id) const noexcept {
  return const_cast<ProgressTracker*>(this)->find(id);
}

Progress* ProgressTracker::progress(NodeId id) noexcept {
  Member* m = find(id);
  return m != nullptr ? &m->progress : nullptr;
}

const Progress* ProgressTracker::progress(NodeId id) const noexcept {
  const Member* m = find(id);
  return m != nullptr ? &m->progress : nullptr;
}

void ProgressTracker::reset_votes() noexcept {
  for (Member& m : members_) m.ballot = Ballot::kMissing;
}

void ProgressTracker::record_vote(NodeId id, bool granted) noexcept {
  if (Member* m = find(id)) m->ballot = granted ? Ballot::kGranted : Ballot::kRejected;
}

VoteResult ProgressTracker::tally_votes() const {
  return voters_.vote_result([this](NodeId id) { return find(id)->ballot; });
}

Index ProgressTracker::committed_index() {
  return voters_.committed_index([this](NodeId id) { return find(id)->progress.match; }, match_scratch_);
}

bool ProgressTracker::quorum_active(NodeId self) {
  const VoteResult result = voters_.vote_result([&](NodeId id) {
    return id == self || find(id)->progress.recent_active ? Ballot::kGranted : Ballot::kRejected;
  });
  for (Member& m : members_) {
    if (m.id != self) m.progress.recent_active = false;
  }
  return result == VoteResult::kWon;
}

bool ProgressTracker::round_confirmed(std::uint64_t round, NodeId self) const {
  return voters_.vote_result([&](NodeId id) {
    return id == self || find(id)->progress.read_round_acked >= round ? Ballot::kGranted : Ballot::kRejected;
  }) == VoteResult::kWon;
}

}  // namespace shmraft::raft
