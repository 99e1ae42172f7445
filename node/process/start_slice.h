#pragma once
// A starting node's time slice. The supervisor starts a node process with the longest time slice the
// kernel gives (EEVDF's custom slice: sched_setattr's sched_runtime, Linux 6.12 on; older kernels ignore
// it), inherited through posix_spawn and exec, and the node takes the default back once its storage is
// recovered and it is attached to the segment, before it serves.
//
// Why: a node's start (exec, dynamic linking, flags, recovery: 10-15 ms of CPU on the 2-core VM) runs
// beside the serving cluster, whose processes wake each other every few tens of microseconds. A process
// woken on the CPU the starter holds waits until the starter's slice protection ends, which a HZ=250
// kernel checks at its next tick: the 1-4 ms steps of a follower restart's slow operations. A woken
// process whose slice is shorter than the running one's preempts it at once (PREEMPT_SHORT). A long
// slice takes nothing from the starter's share of a CPU (its weight is unchanged): it only loses every
// wake-up race. Nice and SCHED_IDLE cannot do this: every node runs in a session, and so an autogroup, of
// its own, and the scheduler weighs autogroups against each other, not their tasks (an idle-policy task
// alone in its autogroup even draws wake-ups to its CPU, which counts as idle to the wake-up path).
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <system_error>

namespace shmraft::node {

constexpr uint64_t kStartSliceNs = 100'000'000;  // the kernel's largest (sched_runtime is clamped to it)

namespace start_slice_detail {

constexpr uint64_t kResetOnFork = 0x01;  // SCHED_FLAG_RESET_ON_FORK

struct Attributes {  // struct sched_attr (glibc before 2.41 declares neither it nor the calls)
  uint32_t size = sizeof(Attributes);
  uint32_t policy = 0;
  uint64_t flags = 0;
  int32_t nice = 0;
  uint32_t priority = 0;
  uint64_t runtime = 0;  // a fair task's slice in ns; 0 sets the default
  uint64_t deadline = 0;
  uint64_t period = 0;
};

// Sets the slice of thread `tid` (0: the caller) and returns its slice before, or nothing where the
// thread is not a fair-class one (real-time or deadline: left alone) or the kernel refused.
inline std::optional<uint64_t> exchange_slice(pid_t tid, uint64_t ns) noexcept {
  Attributes attributes;
  if (::syscall(SYS_sched_getattr, tid, &attributes, sizeof attributes, 0) != 0) return std::nullopt;
  if (attributes.policy != SCHED_OTHER && attributes.policy != SCHED_BATCH && attributes.policy != SCHED_IDLE)
    return std::nullopt;
  const uint64_t before = attributes.runtime;
  attributes.size = sizeof attributes;
  attributes.flags &= kResetOnFork;  // the rest are utilization clamps this call must not set
  attributes.runtime = ns;
  if (::syscall(SYS_sched_setattr, tid, &attributes, 0) != 0) return std::nullopt;
  return before;
}

}  // namespace start_slice_detail

// The slice of thread `tid` (0: the caller) in ns, or 0 when it cannot be read.
inline uint64_t slice_of(pid_t tid = 0) noexcept {
  start_slice_detail::Attributes attributes;
  if (::syscall(SYS_sched_getattr, tid, &attributes, sizeof attributes, 0) != 0) return 0;
  return attributes.runtime;
}

// Around starting a node process: the calling thread has the start slice, which the process it starts
// inherits; at the end of the scope the thread has the default slice again (or the start slice, if it
// had that before: a custom slice of another length is not kept).
class StartSliceForChildren {
 public:
  StartSliceForChildren() noexcept : before_(start_slice_detail::exchange_slice(0, kStartSliceNs)) {}
  ~StartSliceForChildren() {
    if (before_) start_slice_detail::exchange_slice(0, *before_ == kStartSliceNs ? kStartSliceNs : 0);
  }
  StartSliceForChildren(const StartSliceForChildren&) = delete;
  StartSliceForChildren& operator=(const StartSliceForChildren&) = delete;

 private:
  std::optional<uint64_t> before_;
};

// In a node that is ready to serve: every thread of this process that still has the start slice gets
// the default one back. Returns how many did.
inline int end_start_slice() noexcept {
  int ended = 0;
  std::error_code error;
  for (std::filesystem::directory_iterator it("/proc/self/task", error), end; !error && it != end;
       it.increment(error)) {
    const pid_t tid = static_cast<pid_t>(std::strtol(it->path().filename().c_str(), nullptr, 10));
    if (slice_of(tid) == kStartSliceNs && start_slice_detail::exchange_slice(tid, 0)) ++ended;
  }
  return ended;
}

}  // namespace shmraft::node
