#pragma once
// The error the core raises when a peer's message proves that Raft's guarantees no longer hold: a leader
// whose log contradicts an entry this node knows committed. With a correct implementation that means a
// node lost or damaged entries it had persisted. The host must stop with the message (etcd panics the
// same way): going on would rewrite committed history or spread the damage. The core must not be used
// after it threw.
#include <stdexcept>

namespace shmraft::raft {

class SafetyViolation : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace shmraft::raft
