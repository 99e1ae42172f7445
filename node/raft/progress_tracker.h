#pragma once
// The leader's (and a candidate's) view of the other members, keyed by the members of the configuration
// rather than by a range of ids (in the manner of etcd's tracker/): a Progress and a ballot per member,
// and the quorum questions the core asks about them, each answered by the JointConfig.
//
// Members are the voters and the learners (dissertation §4.2.1): learners replicate but are not in the
// JointConfig, so they never count toward a quorum. Lookups scan the few members linearly; only
// set_config() allocates.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "node/raft/conf_state.h"
#include "node/raft/joint_config.h"
#include "node/raft/progress.h"
#include "node/raft/types.h"

namespace shmraft::raft {

class ProgressTracker {
 public:
  struct Member {
    NodeId id = kNoNode;
    Progress progress;
    Ballot ballot = Ballot::kMissing;  // this election's (or pre-election's) answer
  };

  ProgressTracker(const ConfState& conf, std::size_t max_inflight_msgs);

  // Switches to `conf`: members that stay keep their progress and ballot; new ones start probing at
  // `next` (the leader's last index + 1), counted as heard now (CheckQuorum gives them a window).
  void set_config(const ConfState& conf, Index next);

  const JointConfig& voters() const noexcept { return voters_; }
  std::span<Member> members() noexcept { return members_; }
  std::span<const Member> members() const noexcept { return members_; }
  bool is_member(NodeId id) const noexcept { return find(id) != nullptr; }
  // nullptr if `id` is not a member.
  Progress* progress(NodeId id) noexcept;
  const Progress* progress(NodeId id) const noexcept;

  // Elections.
  void reset_votes() noexcept;
  void record_vote(NodeId id, bool granted) noexcept;
  VoteResult tally_votes() const;

  // The highest index both majorities have stored (Progress::match; the leader's own counts once
  // persisted).
  Index committed_index();

  // CheckQuorum's clock: the leader's ticks. `count` ticks passed, all of them before the answers heard
  // since the previous call (Progress::heard_since_tick): a host that reads its rings and then replays
  // the ticks it missed meanwhile hands them over in one call, and those answers count as heard at the
  // end of the replay, which is when they were read, not at its start.
  void tick(int count) noexcept;
  std::uint64_t ticks() const noexcept { return ticks_; }
  // A new leader counts every member as heard now: each gets a window to answer.
  void hear_all_now() noexcept;
  // The tick by which a quorum of voters had last been heard (`self` always counts; an answer not yet
  // stamped counts as now). The leader stays while that is within an election timeout.
  std::uint64_t quorum_heard_tick(NodeId self) const;
  // ReadIndex: whether a quorum acknowledged heartbeat round `round` (`self` always counts).
  bool round_confirmed(std::uint64_t round, NodeId self) const;

 private:
  Member* find(NodeId id) noexcept;
  const Member* find(NodeId id) const noexcept;

  std::size_t max_inflight_msgs_;
  JointConfig voters_;
  std::vector<Member> members_;               // sorted by id
  mutable std::vector<Index> match_scratch_;  // for committed_index() and quorum_heard_tick()
  std::uint64_t ticks_ = 0;
};

}  // namespace shmraft::raft
