// The memory keeper of `shmraft node` (launcher/mm_keeper.h) in a real cluster: one per node, none left
// after an orderly stop, a killed node's keeper ends soon after it, a node restarted while its old
// keeper still holds the old memory starts and serves, and a killed keeper leaves its node serving.
// In sanitizer builds nodes run without keepers; the tests check that instead.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "launcher/child_process.h"
#include "launcher/mm_keeper.h"
#include "tests/cluster/harness.h"

namespace shmraft::cluster_test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The keeper that node process `node` started (a child named shmraft-keeper), 0 if none.
pid_t find_keeper(pid_t node) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    const std::string stat = launcher::read_proc_file(pid, "stat");  // "pid (comm) state ppid ..."
    const std::size_t comm_end = stat.rfind(')');
    if (comm_end == std::string::npos || stat.find("(shmraft-keeper)") == std::string::npos) continue;
    if (std::stoi(stat.substr(comm_end + 4)) == node) return pid;
  }
  return 0;
}

// find_keeper, given a moment (the keeper names itself when it first runs) where keepers are built in.
pid_t keeper_of(pid_t node) {
  pid_t keeper = 0;
  eventually([&] { return (keeper = find_keeper(node)) > 0; }, launcher::kMmKeeperSupported ? 5s : 0s);
  return keeper;
}

// Every node's keeper; checks there is one per node exactly where keepers are built in.
std::vector<pid_t> keepers_of(const TestCluster& cluster) {
  std::vector<pid_t> keepers;
  for (pid_t node : cluster.node_pids()) {
    const pid_t keeper = keeper_of(node);
    EXPECT_EQ(keeper > 0, launcher::kMmKeeperSupported) << "node pid " << node << ", keeper " << keeper;
    keepers.push_back(keeper);
  }
  return keepers;
}

// A process held in a ptrace stop (PTRACE_SEIZE, then PTRACE_INTERRUPT) until destroyed, when it is
// let go (PTRACE_DETACH). Unlike a SIGSTOP, no SIGCONT ends it. We are an ancestor of the processes we
// hold, as Yama's default scope asks.
class TraceStop {
 public:
  explicit TraceStop(pid_t pid) : pid_(pid) {
    if (ptrace(PTRACE_SEIZE, pid_, nullptr, nullptr) != 0) return;
    seized_ = true;
    int status = 0;
    stopped_ =
        ptrace(PTRACE_INTERRUPT, pid_, nullptr, nullptr) == 0 && waitpid(pid_, &status, __WALL) == pid_;
  }
  ~TraceStop() {
    if (seized_) ptrace(PTRACE_DETACH, pid_, nullptr, nullptr);
  }
  TraceStop(const TraceStop&) = delete;
  TraceStop& operator=(const TraceStop&) = delete;
  bool stopped() const noexcept { return stopped_; }

 private:
  pid_t pid_;
  bool seized_ = false;
  bool stopped_ = false;
};

// A signal to a process that is not our child, by pidfd: never to another process that reused its pid.
struct ProcessHandle {
  int fd = -1;
  // System calls, not glibc 2.36's <sys/pidfd.h>, which lacks extern "C".
  explicit ProcessHandle(pid_t pid) : fd(pid > 0 ? static_cast<int>(syscall(SYS_pidfd_open, pid, 0)) : -1) {}
  ~ProcessHandle() {
    if (fd >= 0) close(fd);
  }
  bool signal(int signo) const {
    return fd >= 0 && syscall(SYS_pidfd_send_signal, fd, signo, nullptr, 0) == 0;
  }
  // A pidfd is readable once its process has exited (reaped or not).
  bool exited() const {
    pollfd done{fd, POLLIN, 0};
    return poll(&done, 1, 0) == 1;
  }
};

TEST(Keeper, EveryNodeHasOneAndAnOrderlyStopLeavesNone) {
  TestCluster cluster("keeper-down");
  cluster.wait_for_leader();
  const std::vector<pid_t> keepers = keepers_of(cluster);
  const CommandResult down = cluster.down();
  ASSERT_EQ(down.exit_code, 0) << down.describe();
  // No eventually: each node killed and reaped its keeper before it returned.
  for (pid_t keeper : keepers) {
    if (keeper > 0) {
      EXPECT_EQ(launcher::read_proc_file(keeper, "stat"), "") << "keeper " << keeper << " left";
    }
  }
}

TEST(Keeper, ASigkilledNodesKeeperEndsSoonAfterIt) {
  TestCluster cluster("keeper-kill");
  const uint32_t leader = cluster.wait_for_leader();
  const pid_t keeper = keeper_of(cluster.node_pid(leader));
  ASSERT_EQ(keeper > 0, launcher::kMmKeeperSupported);
  const auto killed = Clock::now();
  const CommandResult kill = cluster.run("kill", {std::to_string(leader)});
  ASSERT_EQ(kill.exit_code, 0) << kill.describe();
  // It lingers 20 ms and then tears the memory down at idle priority: quickly on an idle host, later on
  // a busy one. The bound only says that it does end; the time is printed, not judged.
  EXPECT_TRUE(eventually([&] { return !launcher::process_exists(keeper); }, 10s));
  std::cout << "keeper gone "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed).count()
            << " ms after `shmraft kill` began\n";
  EXPECT_NE(cluster.wait_for_leader(), leader);
}

TEST(Keeper, ANodeRestartedWhileItsOldKeeperHoldsTheOldMemoryStartsAndServes) {
  TestCluster cluster("keeper-restart");
  const uint32_t leader = cluster.wait_for_leader();
  const pid_t old_keeper_pid = keeper_of(cluster.node_pid(leader));
  const ProcessHandle old_keeper(old_keeper_pid);
  if (!launcher::kMmKeeperSupported) {
    EXPECT_EQ(old_keeper.fd, -1) << "a sanitizer build starts no keeper";
    return;
  }
  ASSERT_GE(old_keeper.fd, 0);
  // Held in a ptrace stop, the keeper holds the old node's memory for as long as this test needs. Not
  // SIGSTOP: a node's death may orphan its process group, and the kernel continues an orphaned group's
  // stopped members (SIGCONT does not end a ptrace stop).
  std::optional<TraceStop> held;
  held.emplace(old_keeper_pid);
  ASSERT_TRUE(held->stopped()) << std::strerror(errno);
  ASSERT_EQ(cluster.run("kill", {std::to_string(leader)}).exit_code, 0);
  const CommandResult restart = cluster.run("restart", {std::to_string(leader)});
  ASSERT_EQ(restart.exit_code, 0) << restart.describe();
  const CommandResult put = cluster.kv({"put", "after-restart", "1"});
  ASSERT_EQ(put.exit_code, 0) << put.describe();
  cluster.wait_for_catch_up();  // the restarted node applied it
  const CommandResult transfer = cluster.run("transfer", {std::to_string(leader)});
  ASSERT_EQ(transfer.exit_code, 0) << transfer.describe();
  EXPECT_TRUE(eventually([&] { return cluster.leader() == leader; }, 10s)) << "the restarted node leads";
  const CommandResult put_at_it = cluster.kv({"put", "through-restarted", "2"});
  ASSERT_EQ(put_at_it.exit_code, 0) << put_at_it.describe();
  EXPECT_FALSE(old_keeper.exited()) << "the old keeper was there all along";
  held.reset();
  EXPECT_TRUE(eventually([&] { return old_keeper.exited(); }, 10s))
      << "let go, it sees its node dead and ends";
}

TEST(Keeper, AKilledKeeperLeavesItsNodeServingAndStoppingCleanly) {
  TestCluster cluster("keeper-killed");
  const uint32_t leader = cluster.wait_for_leader();
  const pid_t keeper = keeper_of(cluster.node_pid(leader));
  if (!launcher::kMmKeeperSupported) {
    EXPECT_EQ(keeper, 0) << "a sanitizer build starts no keeper";
    return;
  }
  ASSERT_GT(keeper, 0);
  ASSERT_TRUE(ProcessHandle(keeper).signal(SIGKILL));
  const CommandResult put = cluster.kv({"put", "keeper-gone", "1"});
  ASSERT_EQ(put.exit_code, 0) << put.describe();
  cluster.wait_for_catch_up();
  EXPECT_EQ(cluster.leader(), leader) << "the node did not notice";
  const CommandResult down = cluster.down();
  ASSERT_EQ(down.exit_code, 0) << down.describe();
  EXPECT_EQ(cluster.supervisor_output().find("did not stop cleanly"), std::string::npos)
      << cluster.supervisor_output();
  EXPECT_EQ(launcher::read_proc_file(keeper, "stat"), "") << "its node reaped it on the way out";
}

}  // namespace
}  // namespace shmraft::cluster_test
