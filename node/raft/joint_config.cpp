#include "node/raft/joint_config.h"

#include <algorithm>
#include <iterator>

namespace shmraft::raft {

JointConfig::JointConfig(MajorityConfig incoming, MajorityConfig outgoing)
    : incoming_(std::move(incoming)), outgoing_(std::move(outgoing)) {
  std::set_union(incoming_.voters().begin(), incoming_.voters().end(), outgoing_.voters().begin(),
                 outgoing_.voters().end(), std::back_inserter(voters_));
}

}  // namespace shmraft::raft
