#pragma once
// Real-time scheduling for the threads on the commit path (`--realtime`: node loops, benchmark clients).
//
// On a 2-CPU host a woken node waits for a CPU behind whatever normal process runs there: the fair
// scheduler preempts at a wake-up only when its accounting says so, otherwise at the next tick (4 ms at
// HZ=250), and a node restarting beside a serving cluster is ~30 ms of CPU that the others queue behind
// (docs/design.md, "What a follower's restart costs the others"). A thread at SCHED_RR preempts every
// normal thread the moment it is woken (in user mode; a kernel without preemption finishes the system
// call it is in first). SCHED_RESET_ON_FORK: what the thread creates — threads, snapshot children, a
// restarted node — starts at normal policy, so a restart cannot hold a CPU against the cluster.
//
// Not the default: it needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least 2, and a real-time thread that
// does not sleep holds its CPU against every normal process (the kernel keeps 5 % of each second for
// them, kernel.sched_rt_runtime_us) and against another real-time thread for a round-robin quantum
// (100 ms). Every wait on the commit path spins at most --spin-us before it sleeps on its futex, which is
// what makes it usable; the `spin` and `yield` wait strategies never sleep and are refused with it.
#include <string>

namespace shmraft::node {

// Moves the calling thread to SCHED_RR at `priority` with SCHED_RESET_ON_FORK. Returns "" on success,
// otherwise why not (e.g. "Operation not permitted: needs CAP_SYS_NICE or RLIMIT_RTPRIO >= 2").
// Nodes above clients: a client thread busy with many logical clients must not hold a CPU a node was
// woken for (threads of one real-time priority take turns only when one sleeps, or after 100 ms).
inline constexpr int kClientPriority = 1;
inline constexpr int kNodePriority = 2;
std::string enter_realtime(int priority);

// Whether this process may do so, tried on a thread of its own that exits at once: "" or why not.
std::string realtime_refusal();

}  // namespace shmraft::node
