#pragma once
// The voters of a Raft configuration: the incoming majority and, during a joint-consensus change
// (dissertation §4.3), the outgoing one too. Every decision needs both majorities; outside a change the
// outgoing half is empty and places no constraint (MajorityConfig's empty rules), so one code path serves
// both. Model: etcd's quorum/joint.go.
#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

#include "node/raft/majority_config.h"
#include "node/raft/types.h"

namespace shmraft::raft {

class JointConfig {
 public:
  JointConfig() = default;
  explicit JointConfig(MajorityConfig incoming, MajorityConfig outgoing = {});

  const MajorityConfig& incoming() const noexcept { return incoming_; }
  const MajorityConfig& outgoing() const noexcept { return outgoing_; }
  bool joint() const noexcept { return !outgoing_.empty(); }

  // Every voter of either half, once, sorted.
  std::span<const NodeId> voters() const noexcept { return voters_; }
  bool contains(NodeId id) const noexcept { return incoming_.contains(id) || outgoing_.contains(id); }
  // Slots a committed_index() scratch buffer needs.
  std::size_t scratch_size() const noexcept { return std::max(incoming_.size(), outgoing_.size()); }

  // The highest index both majorities acknowledged.
  template <class Acked>
  Index committed_index(Acked&& acked, std::span<Index> scratch) const {
    return std::min(incoming_.committed_index(acked, scratch), outgoing_.committed_index(acked, scratch));
  }

  // Won when both halves won, lost when either lost, pending otherwise.
  template <class BallotOf>
  VoteResult vote_result(BallotOf&& ballot) const {
    const VoteResult in = incoming_.vote_result(ballot);
    const VoteResult out = outgoing_.vote_result(ballot);
    if (in == VoteResult::kLost || out == VoteResult::kLost) return VoteResult::kLost;
    if (in == VoteResult::kWon && out == VoteResult::kWon) return VoteResult::kWon;
    return VoteResult::kPending;
  }

 private:
  MajorityConfig incoming_;
  MajorityConfig outgoing_;
  std::vector<NodeId> voters_;
};

}  // namespace shmraft::raft
