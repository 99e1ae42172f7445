#include "node/raft/types.h"

namespace shmraft::raft {

const char* to_string(Role role) noexcept {
  switch (role) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "?";
}

}  // namespace shmraft::raft
