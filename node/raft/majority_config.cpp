#include "node/raft/majority_config.h"

#include <stdexcept>
#include <string>

namespace shmraft::raft {

const char* to_string(VoteResult result) noexcept {
  switch (result) {
    case VoteResult::kPending:
      return "pending";
    case VoteResult::kLost:
      return "lost";
    case VoteResult::kWon:
      return "won";
  }
  return "?";
}

MajorityConfig::MajorityConfig(std::vector<NodeId> voters) : voters_(std::move(voters)) {
  std::sort(voters_.begin(), voters_.end());
  if (!voters_.empty() && voters_.front() == kNoNode)
    throw std::invalid_argument("raft::MajorityConfig: node id 0 is reserved for 'no node'");
  const auto repeated = std::adjacent_find(voters_.begin(), voters_.end());
  if (repeated != voters_.end())
    throw std::invalid_argument("raft::MajorityConfig: voter " + std::to_string(*repeated) +
                                " is listed twice");
}

}  // namespace shmraft::raft
