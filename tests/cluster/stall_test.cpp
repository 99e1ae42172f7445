// Frozen or starved leaders (issue 13, --stall-us): a follower that sees its leader's progress counter
// stand still suspects it at once, as after a death. A SIGSTOPped leader is replaced by an election the
// stall started (counters say so), steps down once continued, and no write it took while stopped is
// acknowledged unless the new leader committed it; an idle cluster suspects nobody.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <map>

#include "launcher/client/client.h"
#include "tests/cluster/acknowledged_writer.h"
#include "tests/cluster/harness.h"

namespace shmraft::cluster_test {
namespace {

using namespace std::chrono_literals;

// 20 ms: above the 10-20 ms a node of this shared host may wait for a CPU, so only the SIGSTOP is seen.
TestCluster::Options with_stall_watch() {
  TestCluster::Options options;
  options.node_args = {"--stall-us", "20000"};
  return options;
}

struct StallCounts {
  uint64_t elections = 0, stall_elections = 0, stalls_seen = 0;
};

StallCounts stall_counts(const TestCluster& cluster, uint32_t node) {
  const nlohmann::json s = cluster.status_of(node);
  return {s["elections"].get<uint64_t>(), s["stall_elections"].get<uint64_t>(),
          s["stalls_seen"].get<uint64_t>()};
}

TEST(Stall, StoppedLeaderIsReplacedByTheStallAndStepsDownWhenContinued) {
  TestCluster cluster("stall", with_stall_watch());
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

TEST(Stall, IdleClusterSuspectsNobody) {
  TestCluster cluster("stall-idle", with_stall_watch());
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
