#include "node/raft/config.h"

#include <stdexcept>
#include <string>

namespace shmraft::raft {

void validate(const Config& config) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("raft::Config: " + what); };
  if (config.cluster_size == 0) fail("cluster_size must be at least 1");
  if (config.id == kNoNode || config.id > config.cluster_size)
    fail("id " + std::to_string(config.id) + " is outside 1.." + std::to_string(config.cluster_size));
  if (config.heartbeat_tick <= 0) fail("heartbeat_tick must be positive");
  if (config.election_tick <= config.heartbeat_tick) fail("election_tick must exceed heartbeat_tick");
  if (config.max_inflight_msgs == 0) fail("max_inflight_msgs must be positive");
  if (config.max_msg_bytes == 0) fail("max_msg_bytes must be positive");
  if (config.max_committed_bytes == 0) fail("max_committed_bytes must be positive");
}

}  // namespace shmraft::raft
