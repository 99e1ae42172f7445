// `--realtime` (node/process/realtime.h): the calling thread moves to SCHED_RR at the priority asked,
// what it then creates starts at normal policy (a restarted node or a snapshot child must not hold a CPU
// against the serving loops), and a process that may not is told why. Each case runs on a thread of its
// own, which ends with it, so the test process keeps its policy.
#include "node/process/realtime.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace shmraft::node {
namespace {

bool may_use_realtime() {
  rlimit limit{};
  return ::geteuid() == 0 || (::getrlimit(RLIMIT_RTPRIO, &limit) == 0 && limit.rlim_cur >= 2);
}

TEST(Realtime, TheThreadRunsRoundRobinAndWhatItStartsDoesNot) {
  if (!may_use_realtime()) GTEST_SKIP() << "needs root or RLIMIT_RTPRIO >= 2 (ulimit -r)";
  int policy = -1, priority = -1, child_policy = -1;
  std::thread([&] {
    ASSERT_EQ(enter_realtime(kNodePriority), "");
    sched_param param{};
    ASSERT_EQ(::pthread_getschedparam(::pthread_self(), &policy, &param), 0);
    priority = param.sched_priority;
    std::thread([&] { child_policy = ::sched_getscheduler(0); }).join();
  }).join();
  EXPECT_EQ(policy, SCHED_RR | SCHED_RESET_ON_FORK);
  EXPECT_EQ(priority, kNodePriority);
  EXPECT_EQ(child_policy, SCHED_OTHER) << "SCHED_RESET_ON_FORK: a thread it creates starts at normal policy";
  EXPECT_GT(kNodePriority, kClientPriority)
      << "a busy client thread must not hold a CPU a node was woken for";
}

TEST(Realtime, AProcessThatMayNotIsToldWhy) {
  if (may_use_realtime()) {
    EXPECT_EQ(realtime_refusal(), "");
    // Drop the right in a child and ask again there.
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      const rlimit none{0, 0};
      // Lowering one's own limit, and root becoming nobody, cannot be refused.
      const bool dropped =
          ::setrlimit(RLIMIT_RTPRIO, &none) == 0 && (::geteuid() != 0 || ::setuid(65534) == 0);
      const std::string why = realtime_refusal();
      ::_exit(!dropped ? 2 : why.find("RLIMIT_RTPRIO") != std::string::npos ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_NE(WEXITSTATUS(status), 2) << "the child could not drop the right to SCHED_RR";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the refusal names CAP_SYS_NICE / RLIMIT_RTPRIO";
  } else {
    EXPECT_NE(realtime_refusal().find("RLIMIT_RTPRIO"), std::string::npos);
  }
}

}  // namespace
}  // namespace shmraft::node
