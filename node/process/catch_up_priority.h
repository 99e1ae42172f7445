#pragma once
// A node that starts (a restart after a kill, most often) is on no commit path until it has caught up
// with its leader: the other followers form the quorum. Its start — storage recovery, mapping the
// segment, the catch-up burst — is CPU work of tens of milliseconds, and on a small host every
// millisecond of it is one the leader, the other follower and the clients wait for (CFS lets a task run
// its slice before a waking one gets the CPU). With --catch-up-idle the node runs at SCHED_IDLE
// meanwhile: any normal task that wakes preempts it at once, and it uses only CPU nobody else wants.
// Off by default: on a loaded host a slower catch-up left the leader one follower for longer, and a
// follower kill's worst operations grew (docs/design.md).
//
// Only when the others form a quorum without it (others_form_a_quorum), and only where it can raise
// itself back (CAP_SYS_NICE, or an RLIMIT_NICE that allows its nice value: an
// unprivileged task may lower its priority but not raise it), else nothing changes. Back to SCHED_OTHER
// (nice unchanged) for every thread once the node has caught up or leaves the follower role, or at the
// latest `cap` after lower(): under a load that keeps every CPU busy an idle task would barely run, and a
// node that never catches up is a node the cluster cannot lose another beside. A watchdog thread,
// started before the process is lowered, enforces the cap even while the node is still recovering.
// A peer's death while it catches up raises it too (Node::check_caught_up). Only liveness and latency
// depend on this.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "ipc/segment.h"

namespace shmraft::node {

class CatchUpPriority {
 public:
  CatchUpPriority() = default;  // not lowered
  ~CatchUpPriority();           // restores, and ends the watchdog
  CatchUpPriority(CatchUpPriority&&) noexcept = default;
  CatchUpPriority& operator=(CatchUpPriority&&) noexcept = default;

  // Lowers the calling thread, and so every thread it starts later, when it may raise them back.
  static CatchUpPriority lower(std::chrono::milliseconds cap);

  // Whether the process is still lowered (false after restore() or the cap).
  bool lowered() const noexcept { return state_ && !state_->restored.load(std::memory_order_relaxed); }
  // Every thread of the process back to SCHED_OTHER; true the first time only (from any thread).
  bool restore() noexcept;

 private:
  struct State {
    std::atomic<bool> restored{false};
    std::mutex mutex;
    std::condition_variable done;
    bool ending = false;
    std::thread watchdog;
  };
  std::unique_ptr<State> state_;
};

// Whether the segment says the others form a quorum without node `self`: a leader is announced and alive,
// and its live voters other than `self` are a majority of its voters. Only then may `self` catch up idle:
// otherwise it is on the commit path (a restart after a majority died, the whole cluster's start).
bool others_form_a_quorum(const ipc::Segment& segment, uint32_t self);

// Whether this process may move a thread from SCHED_IDLE back to SCHED_OTHER at its nice value.
bool may_raise_priority() noexcept;

}  // namespace shmraft::node
