// With --catch-up-idle a starting node runs at SCHED_IDLE until it has caught up
// (node/process/catch_up_priority.h).
// In-process: lower() lowers the calling thread and the threads it starts, restore() raises every one
// back once, and the cap raises them without restore(). With node processes: a follower restarted
// while cut off from its leader stays idle, and is at the normal policy, every thread, once it caught up.
// Skipped where the process may not raise itself back (no CAP_SYS_NICE, RLIMIT_NICE too low): there
// lower() does nothing by design. Label `cluster` (it runs node processes), run serially.
#include "node/process/catch_up_priority.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "ipc/fault.h"
#include "launcher/client/client.h"
#include "tests/node/test_cluster.h"

namespace shmraft::node::testing {
namespace {

using namespace std::chrono_literals;

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

std::string key_of(int i) {
  return std::to_string(i).append("k");
}

// The policy of every thread of process `pid`.
std::vector<int> thread_policies(pid_t pid) {
  std::vector<int> policies;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task"))
    policies.push_back(::sched_getscheduler(std::stoi(task.path().filename().string())));
  return policies;
}

TEST(CatchUpPriority, LowersTheCallerAndTheThreadsItStartsAndRestoresEveryOneOnce) {
  if (!may_raise_priority()) GTEST_SKIP() << "this process may not raise a thread back from SCHED_IDLE";
  std::thread([] {  // not the test's main thread
    CatchUpPriority priority = CatchUpPriority::lower(60s);
    ASSERT_TRUE(priority.lowered());
    EXPECT_EQ(::sched_getscheduler(0), SCHED_IDLE);
    std::atomic<pid_t> started_tid{0};
    std::atomic<bool> finish{false};
    std::thread started([&] {
      started_tid = ::gettid();
      while (!finish) std::this_thread::sleep_for(1ms);
    });
    ASSERT_TRUE(wait_until([&] { return started_tid != 0; }, 10s));
    EXPECT_EQ(::sched_getscheduler(started_tid), SCHED_IDLE) << "a thread started while lowered inherits it";
    EXPECT_TRUE(priority.restore());
    EXPECT_FALSE(priority.lowered());
    EXPECT_EQ(::sched_getscheduler(0), SCHED_OTHER);
    EXPECT_EQ(::sched_getscheduler(started_tid), SCHED_OTHER);
    EXPECT_FALSE(priority.restore()) << "once";
    finish = true;
    started.join();
  })
      .join();
}

TEST(CatchUpPriority, TheCapRestoresAThreadThatNeverCaughtUp) {
  if (!may_raise_priority()) GTEST_SKIP() << "this process may not raise a thread back from SCHED_IDLE";
  std::thread([] {
    CatchUpPriority priority = CatchUpPriority::lower(50ms);
    EXPECT_EQ(::sched_getscheduler(0), SCHED_IDLE);
    ASSERT_TRUE(wait_until([&] { return !priority.lowered(); }, 10s));
    EXPECT_EQ(::sched_getscheduler(0), SCHED_OTHER);
    EXPECT_FALSE(priority.restore()) << "the cap did it";
  }).join();
}

TEST(CatchUpPriority, ARestartedFollowerRunsIdleUntilItHasCaughtUpWithItsLeader) {
  if (!may_raise_priority()) GTEST_SKIP() << "this process may not raise a thread back from SCHED_IDLE";
  TestCluster cluster(3, "catch-up-priority");
  for (uint32_t i = 1; i <= 3; ++i) cluster.options(i).catch_up_idle = true;
  cluster.start_all();
  const std::optional<uint32_t> leader = cluster.wait_for_leader(20s);
  ASSERT_TRUE(leader);
  const uint32_t follower = *leader % 3 + 1;
  client::Client c(cluster.name(), TestCluster::client_options());
  for (int i = 0; i < 20; ++i) ASSERT_EQ(c.put(key_of(i), "v").status, client::Status::ok);
  ASSERT_TRUE(cluster.wait_for_applied(20, 20s));
  // The follower's threads are back at the normal policy after the cluster's start.
  const pid_t first = static_cast<pid_t>(cluster.segment().node_counters(follower).snapshot().pid);
  ASSERT_TRUE(wait_until(
      [&] { return thread_policies(first) == std::vector<int>(thread_policies(first).size(), SCHED_OTHER); },
      10s))
      << cluster.log_tail(follower);

  cluster.kill(follower);
  for (int i = 20; i < 40; ++i) ASSERT_EQ(c.put(key_of(i), "v").status, client::Status::ok);
  ipc::FaultSettings cut;
  cut.connected = false;
  cluster.segment().link_fault(*leader, follower).set(cut);
  cluster.segment().link_fault(follower, *leader).set(cut);
  cluster.options(follower).election_ticks *= 20;  // it waits for its leader rather than campaign
  cluster.start(follower);
  ASSERT_TRUE(wait_until(
      [&] {
        const auto now = cluster.segment().node_counters(follower).snapshot();
        return now.pid != static_cast<uint64_t>(first) && now.updated_ns != 0 && now.pid != 0;
      },
      10s));
  const pid_t second = static_cast<pid_t>(cluster.segment().node_counters(follower).snapshot().pid);
  std::this_thread::sleep_for(100ms);  // a few loop iterations without its leader
  EXPECT_EQ(::sched_getscheduler(second), SCHED_IDLE) << "behind and cut off: still catching up";

  cluster.segment().link_fault(*leader, follower).set(ipc::FaultSettings{});
  cluster.segment().link_fault(follower, *leader).set(ipc::FaultSettings{});
  ASSERT_TRUE(wait_until(
      [&] {
        return thread_policies(second) == std::vector<int>(thread_policies(second).size(), SCHED_OTHER);
      },
      10s))
      << cluster.log_tail(follower);
  std::ifstream log(cluster.options(follower).effective_log_file());
  bool caught_up = false;
  for (std::string line; std::getline(log, line);)
    caught_up = caught_up || line.find("normal priority again: caught up") != std::string::npos;
  EXPECT_TRUE(caught_up) << cluster.log_tail(follower);
  EXPECT_GE(cluster.segment().node_counters(follower).snapshot().applied_index, 40u);
}

// With both followers dead the leader needs the one that restarts: it starts at the normal policy.
TEST(CatchUpPriority, AFollowerTheOthersNeedForAQuorumDoesNotStartIdle) {
  if (!may_raise_priority()) GTEST_SKIP() << "this process may not raise a thread back from SCHED_IDLE";
  TestCluster cluster(3, "catch-up-needed");
  for (uint32_t i = 1; i <= 3; ++i) cluster.options(i).catch_up_idle = true;
  cluster.start_all();
  const std::optional<uint32_t> leader = cluster.wait_for_leader(20s);
  ASSERT_TRUE(leader);
  const uint32_t follower = *leader % 3 + 1;
  const uint32_t other = follower % 3 + 1;
  ASSERT_TRUE(cluster.wait_for_applied(1, 20s));
  const pid_t first = static_cast<pid_t>(cluster.segment().node_counters(follower).snapshot().pid);
  cluster.kill(other);
  cluster.kill(follower);
  // Cut off and slow to campaign, it could neither catch up nor leave the follower role: were it idle,
  // it would stay so.
  ipc::FaultSettings cut;
  cut.connected = false;
  cluster.segment().link_fault(*leader, follower).set(cut);
  cluster.segment().link_fault(follower, *leader).set(cut);
  cluster.options(follower).election_ticks *= 20;
  cluster.start(follower);
  ASSERT_TRUE(wait_until(
      [&] {
        const auto now = cluster.segment().node_counters(follower).snapshot();
        return now.pid != 0 && now.pid != static_cast<uint64_t>(first) && now.updated_ns != 0;
      },
      10s));
  const pid_t second = static_cast<pid_t>(cluster.segment().node_counters(follower).snapshot().pid);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(::sched_getscheduler(second), SCHED_OTHER) << cluster.log_tail(follower);
}

}  // namespace
}  // namespace shmraft::node::testing
