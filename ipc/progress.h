#pragma once
// Frozen peers (issue 13, Mu's idea): each node bumps a progress counter in a cache line of its own on
// every loop iteration; a peer that sees it stand still for a configurable number of microseconds asks
// the kernel what the node is doing (process_state.h) and suspects it only if it is stopped (SIGSTOP, a
// tracer). A runnable node (starved on a loaded host, or busy in a long iteration) and a sleeping one
// (a timer, the disk) are alive: the watcher vouches for them, and the election timeout judges them.
// A node that goes to sleep on purpose says until when (idle_until). Once vouched for, that deadline
// counts: the watcher looks again only a stall time after it, and while the node takes no work (no
// client request, no new role: the node counts them in `work`) it stays vouched for, so an idle node
// costs no look. Before a look, or once the node took work, it does not count: a node stopped just
// after it took a request is suspected a stall time later whatever sleep it had announced (one
// client's requests come between a leader's heartbeats, 30 ms apart). An iteration that took no work
// announces the sleep it plans before its frames go out, and a vouched node awake without new work is
// held to the last sleep it announced: an idle leader's heartbeat, which wakes its followers, then
// costs them no second wake-up a stall time later. A stop in that iteration is found as one during
// its sleep would be.
// The stall time counts from the node's own stamp of its last move, not from when a watcher happened
// to see it: a watcher looks once per stall time, and without the stamp a stop just after a look was
// suspected only up to two stall times later. A bump ends the sleep idle_until announced, so a node
// not vouched for that was woken early and stopped at once is not given the rest of its sleep.
//
// Node i, in its loop:
//     ProgressCounter& progress = segment.progress(i);
//     progress.bump(now_ns);                    // after each wake-up and each iteration: stores, no syscall
//     progress.took_work();                     // an iteration that took a client request (or a new role)
//     progress.idle_until(next_timer_ns);       // otherwise before its frames go out, and before each sleep
//                                               // (CLOCK_MONOTONIC ns; max = none)
// Node j (watching the leader, say):
//     ProgressWatch watch = segment.watch_progress(stall);   // e.g. stall = 2 ms
//     watch.observe(monotonic_ns());            // after each wake-up
//     if (watch.stalled(leader, now)) {
//       if (may_be_frozen(node_process_state(segment, leader))) {
//         watch.restart(leader, now); core.peer_down(leader);  // suspect: a pre-election, nothing more
//       } else {
//         watch.vouch(leader, now);              // alive: look again a stall time after its sleep
//       }
//     }
//     sleep no later than watch.next_check_ns(leader)
// Only liveness may depend on this: a suspect that resumes is only a node that lost an election.
#include <atomic>
#include <chrono>
#include <cstdint>

#include "ipc/doorbell.h"
#include "ipc/liveness.h"

namespace shmraft::ipc {

// Written only by the node it belongs to (relaxed load + store, as NodeCounters).
struct alignas(kCacheLine) ProgressCounter {
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> idle_until_ns{0};  // CLOCK_MONOTONIC deadline of the node's current sleep, 0 awake
  std::atomic<uint64_t> moved_ns{0};       // CLOCK_MONOTONIC ns of the last bump; 0: never stamped
  std::atomic<uint64_t> work{0};           // moves that were not its own plan: requests taken, roles

  // The node moved at `now_ns` and is awake (0: no stamp; a watcher times the move by its own look).
  // The count goes last (release): a watcher that sees it new sees this stamp too, never the one before
  // a long iteration, which would make the node look stalled the moment it moved.
  void bump(uint64_t now_ns = 0) noexcept {
    moved_ns.store(now_ns, std::memory_order_relaxed);
    idle_until_ns.store(0, std::memory_order_relaxed);
    count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  // relaxed: the frames the node publishes after it (release) carry it to the peers they wake.
  void took_work() noexcept {
    work.store(work.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // relaxed: a reader that misses it for a moment only suspects a node a little early.
  void idle_until(uint64_t deadline_ns) noexcept {
    idle_until_ns.store(deadline_ns, std::memory_order_relaxed);
  }
};
static_assert(sizeof(ProgressCounter) == kCacheLine);

struct ProgressReading {
  uint64_t count = 0;          // the counter's value at the last observe()
  uint64_t since_ns = 0;       // when the node stamped that value (or, asleep again when a look was
                               // due, the one before), else when this reader first saw it
  uint64_t idle_until_ns = 0;  // the sleep the node last announced (vouched for: kept while it is awake)
  uint64_t work = 0;           // the node's work count at the last observe()
  bool vouched = false;        // found alive, and no work taken since: its announced sleep counts
};

// Process-local reader of every node's progress counter; takes node ids 1..node_count.
class ProgressWatch {
 public:
  ProgressWatch(const ProgressCounter* counters, uint32_t node_count,
                std::chrono::nanoseconds stall) noexcept;

  std::chrono::nanoseconds stall() const noexcept { return std::chrono::nanoseconds(stall_ns_); }

  // Reads every counter at time `now_ns`; one that moved restarts its node's stall clock.
  void observe(uint64_t now_ns) noexcept;
  const ProgressReading& reading(uint32_t node) const noexcept { return readings_[node]; }
  // Due for a look: not moved for the stall time (past its own idle deadline too, once vouched for), or
  // asleep again after moves when a look was due already, as of the last observe(). The watcher then
  // looks (process_state.h) and restarts or vouches. A node never seen moving is judged from the first
  // observe() on.
  bool stalled(uint32_t node, uint64_t now_ns) const noexcept { return now_ns >= next_check_ns(node); }
  NodeMask stalled(uint64_t now_ns) const noexcept;
  // Starts `node`'s stall clock again at `now_ns`, as if its counter had moved: a watcher that acted
  // on a suspicion suspects the same stall again only a stall time later.
  void restart(uint32_t node, uint64_t now_ns) noexcept {
    readings_[node].since_ns = now_ns;
    readings_[node].vouched = false;
  }
  // `node` stood still but is alive (the kernel says it runs or sleeps): its clock starts again at
  // `now_ns` and the sleep it announced counts, until its counter moves.
  void vouch(uint32_t node, uint64_t now_ns) noexcept {
    readings_[node].since_ns = now_ns;
    readings_[node].vouched = true;
  }
  // When `node` becomes stalled if its counter stays put: a deadline for the watcher's sleep.
  uint64_t next_check_ns(uint32_t node) const noexcept;

 private:
  const ProgressCounter* counters_;  // by slot (layout.h's slot_of)
  uint32_t node_count_;
  uint64_t stall_ns_;
  ProgressReading readings_[kMaxNodes + 1] = {};  // by node id; [0] unused
};

}  // namespace shmraft::ipc
