#pragma once
// A set of voters decided by simple majority (as etcd's quorum/majority.go): which index a majority has
// acknowledged, and whether a majority granted, refused or has yet to answer something (a vote, a
// CheckQuorum round, a ReadIndex heartbeat round). Every quorum decision of the core goes through here,
// by way of JointConfig, so that a configuration change is "both majorities" and nothing else.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <vector>

#include "node/raft/types.h"

namespace shmraft::raft {

// One voter's answer to a question put to every voter.
enum class Ballot : std::uint8_t { kMissing, kGranted, kRejected };

enum class VoteResult : std::uint8_t {
  kPending,  // neither outcome is settled: enough voters have yet to answer
  kLost,     // a majority can no longer grant, whatever the missing voters answer
  kWon,      // a majority granted
};
const char* to_string(VoteResult result) noexcept;

class MajorityConfig {
 public:
  MajorityConfig() = default;
  // Throws std::invalid_argument on id 0 (kNoNode) or a repeated id. Kept sorted.
  explicit MajorityConfig(std::vector<NodeId> voters);

  std::span<const NodeId> voters() const noexcept { return voters_; }
  std::size_t size() const noexcept { return voters_.size(); }
  bool empty() const noexcept { return voters_.empty(); }
  bool contains(NodeId id) const noexcept { return std::binary_search(voters_.begin(), voters_.end(), id); }
  std::size_t quorum() const noexcept { return voters_.size() / 2 + 1; }

  // The highest index that a majority has acknowledged (`acked(id)` gives each voter's). `scratch` needs
  // size() slots; nothing is allocated. An empty config places no constraint: it returns the largest
  // Index, so that a joint config with no outgoing half is decided by the incoming half alone.
  template <class Acked>
  Index committed_index(Acked&& acked, std::span<Index> scratch) const {
    if (voters_.empty()) return std::numeric_limits<Index>::max();
    const std::size_t n = voters_.size();
    for (std::size_t i = 0; i < n; ++i) scratch[i] = acked(voters_[i]);
    const auto kth = scratch.begin() + static_cast<std::ptrdiff_t>(quorum() - 1);
    std::nth_element(scratch.begin(), kth, scratch.begin() + static_cast<std::ptrdiff_t>(n),
                     std::greater<>());
    return *kth;
  }

  // `ballot(id)` gives each voter's answer. An empty config wins (again: no constraint).
  template <class BallotOf>
  VoteResult vote_result(BallotOf&& ballot) const {
    if (voters_.empty()) return VoteResult::kWon;
    std::size_t granted = 0;
    std::size_t missing = 0;
    for (const NodeId id : voters_) {
      const Ballot b = ballot(id);
      granted += b == Ballot::kGranted;
      missing += b == Ballot::kMissing;
    }
    if (granted >= quorum()) return VoteResult::kWon;
    if (granted + missing >= quorum()) return VoteResult::kPending;
    return VoteResult::kLost;
  }

 private:
  std::vector<NodeId> voters_;
};

}  // namespace shmraft::raft
