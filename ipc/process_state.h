#pragma once
// What the kernel says a node's process is doing (issue 13, frozen or starved leaders). A follower that
// saw its leader's progress counter stand still (progress.h) asks before it suspects: only a stopped
// process (SIGSTOP, a tracer) is frozen. A runnable one waits for a CPU (a leader starved on a loaded
// host) and a sleeping one for a timer, a lock or the disk (fdatasync): alive and merely slow, which the
// election timeout and CheckQuorum judge, not a stall time of a few milliseconds. Hence a short stall
// time costs no elections under load. One open/read/close of /proc/<pid>/stat per question, asked at
// most once per stall time and never per entry; nothing allocated.
//
// Which process: the one that holds the node's liveness claim (liveness.h). Once it died and was reaped
// its pid may name another process, but its claim says so first: the kernel marks the death cells early
// in the exit, before the pid is freed. So an answer counts only if the claim read after the look is the
// one read before it.
//
//     if (watch.stalled(leader, now) && may_be_frozen(node_process_state(segment, leader))) suspect
//     (progress.h: otherwise the watch vouches for it)
//
// Only liveness may depend on the answer: a wrong one costs an election, or leaves the detection to the
// election timeout.
#include <sys/types.h>

#include <cstdint>
#include <string_view>

#include "ipc/liveness.h"

namespace shmraft::ipc {

class Segment;

enum class ProcessState : uint8_t {
  kRunnable,  // R: running or waiting for a CPU
  kSleeping,  // S, D, I, ...: waiting for an event, a lock or the disk
  kStopped,   // T, t: stopped by a signal or a tracer; moves again only once continued
  kGone,      // Z, X, no such process, or no live claim on the node
  kUnknown,   // /proc unreadable (not mounted, hidepid) or a line not understood
};

const char* to_string(ProcessState state) noexcept;

// Stopped or gone: the stall watch suspects it. Not known (no /proc to read): the watch cannot tell a
// frozen node from an idle one and leaves both to the election timeout, as if it were off.
constexpr bool may_be_frozen(ProcessState state) noexcept {
  return state == ProcessState::kStopped || state == ProcessState::kGone;
}

// The state in a /proc/<pid>/stat line: "pid (comm) S ...", where comm may hold spaces and ')'.
ProcessState parse_process_stat(std::string_view line) noexcept;

// The scheduler state of process `pid` (of its main thread, which runs a node's loop).
ProcessState process_state(pid_t pid) noexcept;

// What a look at a claim's process (`seen`, the state of the pid the claim named) says, given the claim
// read before and after it: gone if the claim died or changed meanwhile; unknown if the claim lived
// throughout but /proc had no such process (our view of /proc, not a death).
ProcessState judge_claimed_process(const PeerLiveness& before, ProcessState seen,
                                   const PeerLiveness& after) noexcept;

// The state of the process that holds node `node`'s liveness claim, checked to be that process.
ProcessState node_process_state(const Segment& segment, uint32_t node);

}  // namespace shmraft::ipc
