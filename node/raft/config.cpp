#include "node/raft/config.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace shmraft::raft {

void validate(const Config& config) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("raft::Config: " + what); };
  if (config.voters.empty()) fail("voters must name at least one node");
  if (config.max_nodes == 0 || config.max_nodes > kMaxNodeId)
    fail("max_nodes must be in 1.." + std::to_string(kMaxNodeId));
  const auto in_range = [&](NodeId id) { return id != kNoNode && id <= config.max_nodes; };
  if (!in_range(config.id))
    fail("id " + std::to_string(config.id) + " is outside 1..max_nodes (" + std::to_string(config.max_nodes) +
         ")");
  for (const NodeId voter : config.voters)
    if (!in_range(voter))
      fail("voter " + std::to_string(voter) + " is outside 1..max_nodes (" +
           std::to_string(config.max_nodes) + ")");
  std::vector<NodeId> sorted = config.voters;
  std::sort(sorted.begin(), sorted.end());
  const auto repeated = std::adjacent_find(sorted.begin(), sorted.end());
  if (repeated != sorted.end()) fail("voter " + std::to_string(*repeated) + " is listed twice");
  if (config.incarnation >= kRepairAsLearner)
    fail("incarnation must stay below 2^63 (the top bit of a repair mark says \"returns as a learner\")");
  if (config.state_lost && config.incarnation == 0)
    fail("state_lost needs a non-zero incarnation (the repair names the lost start)");
  if (config.heartbeat_tick <= 0) fail("heartbeat_tick must be positive");
  if (config.election_tick <= config.heartbeat_tick) fail("election_tick must exceed heartbeat_tick");
  if (config.max_inflight_msgs == 0) fail("max_inflight_msgs must be positive");
  if (config.max_msg_bytes == 0) fail("max_msg_bytes must be positive");
  if (config.max_committed_bytes == 0) fail("max_committed_bytes must be positive");
}

std::vector<NodeId> voters_numbered_1_to(std::uint32_t count) {
  std::vector<NodeId> voters(count);
  for (std::uint32_t i = 0; i < count; ++i) voters[i] = i + 1;
  return voters;
}

}  // namespace shmraft::raft
