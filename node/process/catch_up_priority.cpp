#include "node/process/catch_up_priority.h"

#include <dirent.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace shmraft::node {

namespace {

constexpr int kCapSysNice = 23;  // CAP_SYS_NICE

bool has_cap_sys_nice() noexcept {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  return (data[kCapSysNice / 32].effective & (1U << (kCapSysNice % 32))) != 0;
}

bool set_policy(pid_t tid, int policy) noexcept {
  const sched_param param{};
  return ::sched_setscheduler(tid, policy, &param) == 0;
}

// Threads the node started while lowered inherited SCHED_IDLE: each is set back by its id.
void restore_all_threads() noexcept {
  DIR* tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) {
    set_policy(0, SCHED_OTHER);
    return;
  }
  while (const dirent* entry = ::readdir(tasks)) {
    const pid_t tid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (tid > 0 && ::sched_getscheduler(tid) == SCHED_IDLE) set_policy(tid, SCHED_OTHER);
  }
  ::closedir(tasks);
}

}  // namespace

bool others_form_a_quorum(const ipc::Segment& segment, uint32_t self) {
  const std::optional<uint32_t> leader = segment.leader_record().read().leader;
  if (!leader || *leader == self || !segment.peer_alive(*leader).alive) return false;
  const uint64_t voters = segment.node_counters(*leader).snapshot().voters;
  int members = 0;
  int others_alive = 0;
  for (uint32_t node = 1; node <= segment.max_nodes(); ++node) {
    if ((voters & (uint64_t{1} << node)) == 0) continue;
    ++members;
    if (node != self && segment.peer_alive(node).alive) ++others_alive;
  }
  return 2 * others_alive > members;
}

bool may_raise_priority() noexcept {
  if (has_cap_sys_nice()) return true;
  // The kernel's can_nice(): leaving SCHED_IDLE needs RLIMIT_NICE >= 20 - nice.
  errno = 0;
  const int nice = ::getpriority(PRIO_PROCESS, 0);
  if (errno != 0) return false;
  rlimit limit{};
  return ::getrlimit(RLIMIT_NICE, &limit) == 0 &&
         (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= static_cast<rlim_t>(20 - nice));
}

CatchUpPriority CatchUpPriority::lower(std::chrono::milliseconds cap) {
  CatchUpPriority priority;
  if (::sched_getscheduler(0) != SCHED_OTHER || !may_raise_priority()) return priority;
  priority.state_ = std::make_unique<State>();
  State& state = *priority.state_;
  // Started before the lowering, so it keeps the normal policy: an idle watchdog could wait long for
  // the CPU it is to give back.
  state.watchdog = std::thread([&state, cap] {
    std::unique_lock lock(state.mutex);
    if (!state.done.wait_for(lock, cap, [&] { return state.ending; }) && !state.restored.exchange(true))
      restore_all_threads();
  });
  if (!set_policy(0, SCHED_IDLE)) state.restored = true;
  return priority;
}

bool CatchUpPriority::restore() noexcept {
  if (!state_ || state_->restored.exchange(true)) return false;
  restore_all_threads();
  return true;
}

CatchUpPriority::~CatchUpPriority() {
  if (!state_) return;
  restore();
  {
    const std::lock_guard lock(state_->mutex);
    state_->ending = true;
  }
  state_->done.notify_one();
  state_->watchdog.join();
}

}  // namespace shmraft::node
