// Frozen leaders (issue 13): a follower that sees its leader's progress counter stand still asks the
// kernel, and suspects a stopped leader at once, as after a death; all with the default flags. A
// SIGSTOPped leader is replaced by an election the stall started (counters say so), steps down once
// continued, and no write it took while stopped is acknowledged unless the new leader committed it; a
// leader starved of CPU (runnable, its counter standing still) is never suspected; an idle cluster
// suspects nobody.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <thread>
#include <vector>

#include "ipc/clock.h"
#include "ipc/process_state.h"
#include "ipc/segment.h"
#include "launcher/client/client.h"
#include "node/process/node_options.h"
#include "tests/cluster/acknowledged_writer.h"
#include "tests/cluster/harness.h"

namespace shmraft::cluster_test {
namespace {

using namespace std::chrono_literals;

struct StallCounts {
  uint64_t elections = 0, stall_elections = 0, stalls_seen = 0;
};

StallCounts stall_counts(const TestCluster& cluster, uint32_t node) {
  const nlohmann::json s = cluster.status_of(node);
  return {s["elections"].get<uint64_t>(), s["stall_elections"].get<uint64_t>(),
          s["stalls_seen"].get<uint64_t>()};
}

TEST(Stall, StoppedLeaderIsReplacedByTheStallAndStepsDownWhenContinued) {
  TestCluster cluster("stall");  // the default flags: the watch is on
  const uint32_t old_leader = cluster.wait_for_leader();
  cluster.wait_for_catch_up();
  AcknowledgedWriter writes(cluster.name(), "s");
  ASSERT_TRUE(eventually([&] { return writes.acknowledged() > 20; }, 10s)) << "the writer is stuck";

  std::map<uint32_t, StallCounts> before;
  for (uint32_t n = 1; n <= cluster.nodes(); ++n) before[n] = stall_counts(cluster, n);
  const pid_t pid = cluster.node_pid(old_leader);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  const uint64_t old_term = cluster.status_of(old_leader)["term"].get<uint64_t>();

  std::optional<uint32_t> new_leader;
  const bool replaced = eventually(
      [&] {
        new_leader = cluster.leader();
        return new_leader && *new_leader != old_leader;
      },
      10s);
  const std::size_t during_stop = writes.acknowledged();
  const bool writes_resumed = eventually([&] { return writes.acknowledged() > during_stop + 10; }, 10s);
  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  ASSERT_TRUE(replaced) << "no new leader while node " << old_leader << " was stopped\n"
                        << cluster.status().dump(1);
  EXPECT_TRUE(writes_resumed) << "the new leader acknowledged no write";

  uint64_t elections = 0, stall_elections = 0;
  for (uint32_t n = 1; n <= cluster.nodes(); ++n) {
    if (n == old_leader) continue;
    const StallCounts now = stall_counts(cluster, n);
    elections += now.elections - before[n].elections;
    stall_elections += now.stall_elections - before[n].stall_elections;
    EXPECT_EQ(now.stall_elections - before[n].stall_elections, now.elections - before[n].elections)
        << "node " << n << " started an election by a timeout, not by the stall";
  }
  EXPECT_GE(stall_elections, 1u) << "no election was started by the stall";
  std::printf("leader %u stopped: node %u leads now; elections %llu, by the stall %llu\n", old_leader,
              *new_leader, static_cast<unsigned long long>(elections),
              static_cast<unsigned long long>(stall_elections));

  // Continued, the old leader finds the newer term and follows.
  EXPECT_TRUE(eventually(
      [&] {
        const nlohmann::json s = cluster.status_of(old_leader);
        return s["role"] == "follower" && s["term"].get<uint64_t>() > old_term;
      },
      10s))
      << cluster.status().dump(1);
  const std::size_t after_continue = writes.acknowledged();
  EXPECT_TRUE(eventually([&] { return writes.acknowledged() > after_continue + 10; }, 10s));
  writes.stop();

  client::Client reader(cluster.name());
  for (const auto& [key, value] : writes.values()) {
    const client::Result get = reader.get(key);
    ASSERT_TRUE(get.ok()) << key;
    EXPECT_EQ(get.value, value) << "acknowledged write of key " << key << " is lost";
  }
}

// Processes that keep every CPU busy at the normal priority until destroyed.
class CpuHogs {
 public:
  explicit CpuHogs(unsigned count) {
    for (unsigned i = 0; i < count; ++i) {
      const pid_t pid = ::fork();
      if (pid == 0) {
        std::atomic<uint64_t> spins{0};
        for (;;) spins.fetch_add(1, std::memory_order_relaxed);
      }
      if (pid > 0) pids_.push_back(pid);
    }
  }
  ~CpuHogs() {
    for (const pid_t pid : pids_) ::kill(pid, SIGKILL);
    for (const pid_t pid : pids_) ::waitpid(pid, nullptr, 0);
  }
  CpuHogs(const CpuHogs&) = delete;
  CpuHogs& operator=(const CpuHogs&) = delete;

 private:
  std::vector<pid_t> pids_;
};

// A leader that waits for a CPU stands still as a stopped one does, for as long as the host is busy;
// the kernel says it is runnable, so no follower suspects it (the election timeout may still replace
// it, which is not a suspicion). Without asking the kernel every follower would, within a stall time.
TEST(Stall, AStarvedLeaderIsNeverSuspected) {
  TestCluster cluster("stall-starved");
  const uint32_t leader = cluster.wait_for_leader();
  cluster.wait_for_catch_up();
  AcknowledgedWriter writes(cluster.name(), "s");  // work for the leader: it moves whenever it runs
  ASSERT_TRUE(eventually([&] { return writes.acknowledged() > 20; }, 10s)) << "the writer is stuck";
  std::map<uint32_t, StallCounts> before;
  for (uint32_t n = 1; n <= cluster.nodes(); ++n) before[n] = stall_counts(cluster, n);

  // The leader's loop (its main thread) runs only when no CPU has anything else to do.
  const pid_t pid = cluster.node_pid(leader);
  sched_param param{};
  ASSERT_EQ(::sched_setscheduler(pid, SCHED_IDLE, &param), 0);
  ipc::Segment segment = ipc::Segment::attach(cluster.name());
  ipc::ProgressWatch watch = segment.watch_progress(std::chrono::microseconds(node::kDefaultStallUs));
  int starved_looks = 0;  // the leader stood still for a stall time and was runnable: what would be suspected
  {
    const CpuHogs hogs(2 * std::max(1u, std::thread::hardware_concurrency()));
    const auto end = std::chrono::steady_clock::now() + 1s;
    while (std::chrono::steady_clock::now() < end) {
      const uint64_t now_ns = ipc::monotonic_ns();
      watch.observe(now_ns);
      if (watch.stalled(leader, now_ns) &&
          ipc::node_process_state(segment, leader) == ipc::ProcessState::kRunnable) {
        ++starved_looks;
        watch.vouch(leader, now_ns);
      }
      std::this_thread::sleep_for(1ms);
    }
  }
  ::sched_setscheduler(pid, SCHED_OTHER, &param);  // may be refused unprivileged: the hogs are gone anyway
  EXPECT_GE(starved_looks, 1) << "the leader never stood still while runnable: nothing was tested";

  for (uint32_t n = 1; n <= cluster.nodes(); ++n) {
    const StallCounts now = stall_counts(cluster, n);
    EXPECT_EQ(now.stalls_seen, before[n].stalls_seen) << "node " << n << " suspected a starved leader";
    EXPECT_EQ(now.stall_elections, before[n].stall_elections) << "node " << n;
  }
  std::printf("leader %u starved for 1 s: seen standing still while runnable %d times\n", leader,
              starved_looks);
  const std::size_t after_starving = writes.acknowledged();
  EXPECT_TRUE(eventually([&] { return writes.acknowledged() > after_starving + 10; }, 10s));
}

TEST(Stall, IdleClusterSuspectsNobody) {
  TestCluster cluster("stall-idle");
  cluster.wait_for_leader();
  cluster.wait_for_catch_up();
  std::map<uint32_t, StallCounts> before;
  for (uint32_t n = 1; n <= cluster.nodes(); ++n) before[n] = stall_counts(cluster, n);
  std::this_thread::sleep_for(3s);  // a hundred heartbeats, each one an idle leader asleep in between
  for (uint32_t n = 1; n <= cluster.nodes(); ++n) {
    const StallCounts now = stall_counts(cluster, n);
    EXPECT_EQ(now.stalls_seen, before[n].stalls_seen) << "node " << n << " suspected an idle leader";
    EXPECT_EQ(now.stall_elections, before[n].stall_elections) << "node " << n;
    EXPECT_EQ(now.elections, before[n].elections) << "node " << n;
  }
}

}  // namespace
}  // namespace shmraft::cluster_test
