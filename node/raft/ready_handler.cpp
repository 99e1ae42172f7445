#include "node/raft/ready_handler.h"

namespace shmraft::raft {

void ReadyHandler::check_state(const Core& core) {
  invariants_.check_state(local_state(core));
}

}  // namespace shmraft::raft
