#include "node/process/realtime.h"

#include <sched.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace shmraft::node {

std::string enter_realtime(int level) {
  sched_param priority{};
  priority.sched_priority = level;
  if (::sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &priority) == 0) return "";
  const int error = errno;
  std::string why = std::strerror(error);
  if (error == EPERM) why += ": SCHED_RR needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least 2 (ulimit -r)";
  return why;
}

std::string realtime_refusal() {
  std::string why;
  // The highest priority asked for: a limit that allows the clients' may not allow the nodes'.
  std::thread([&why] { why = enter_realtime(kNodePriority); }).join();
  return why;
}

}  // namespace shmraft::node
