#include "node/raft/progress_tracker.h"

#include <algorithm>
#include <utility>

namespace shmraft::raft {

ProgressTracker::ProgressTracker(const ConfState& conf, std::size_t max_inflight_msgs)
    : max_inflight_msgs_(max_inflight_msgs) {
  set_config(conf, 1);
}

void ProgressTracker::set_config(const ConfState& conf, Index next) {
  voters_ = JointConfig(MajorityConfig(conf.voters.ids()));
  match_scratch_.resize(voters_.scratch_size());
  NodeSet all = conf.voters;
  for (const NodeId id : conf.learners.ids()) all.insert(id);
  std::vector<Member> members;
  members.reserve(all.size());
  for (const NodeId id : all.ids()) {
    if (Member* kept = find(id)) {
      members.push_back(std::move(*kept));
    } else {
      members.push_back(Member{
          .id = id,
          .progress =
              Progress{.next = next, .heard_tick = ticks_, .inflights = Inflights(max_inflight_msgs_)}});
    }
  }
  members_ = std::move(members);
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

void ProgressTracker::tick(int count) noexcept {
  ticks_ += static_cast<std::uint64_t>(count);
  for (Member& m : members_) {
    if (std::exchange(m.progress.heard_since_tick, false)) m.progress.heard_tick = ticks_;
  }
}

void ProgressTracker::hear_all_now() noexcept {
  for (Member& m : members_) {
    m.progress.heard_tick = ticks_;
    m.progress.heard_since_tick = false;
  }
}

std::uint64_t ProgressTracker::quorum_heard_tick(NodeId self) const {
  // The quorum's latest tick is found the way the commit index is: the value a majority has reached.
  return voters_.committed_index(
      [&](NodeId id) {
        const Progress& pr = find(id)->progress;
        return id == self || pr.heard_since_tick ? ticks_ : pr.heard_tick;
      },
      match_scratch_);
}

bool ProgressTracker::round_confirmed(std::uint64_t round, NodeId self) const {
  return voters_.vote_result([&](NodeId id) {
    return id == self || find(id)->progress.read_round_acked >= round ? Ballot::kGranted : Ballot::kRejected;
  }) == VoteResult::kWon;
}

}  // namespace shmraft::raft
