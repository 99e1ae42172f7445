// At a leader's death the kernel wakes only the follower ranked first to succeed it (the furthest log,
// then the lowest id; Node::stagger_rank), which campaigns at once. The others sleep on: they learn of the
// death from its vote request, which they grant. Woken all at once, the 4 survivors of a 5-node cluster
// held the host's 2 CPUs while the candidate waited for one. Label `cluster`, run serially.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>

#include "ipc/clock.h"
#include "node/process/node_counters.h"
#include "tests/node/test_cluster.h"

namespace shmraft::node::testing {
namespace {

using namespace std::chrono_literals;

TEST(DeathWake, OnlyTheFirstRankedFollowerWakesAtItsLeadersDeathAndTheOthersVoteWhenAsked) {
  TestCluster cluster(5, "death-wake");
  // The progress watch looks at the leader once a second: nothing but the candidate's vote request wakes
  // the other followers within an election (their election timers are 150-300 ms away).
  for (uint32_t node = 1; node <= 5; ++node) cluster.options(node).stall_us = 1'000'000;
  cluster.start_all();
  std::optional<uint32_t> leader = cluster.wait_for_leader(20s);
  ASSERT_TRUE(leader);
  for (int round = 0; round < 5; ++round) {
    std::this_thread::sleep_for(100ms);  // every follower heard the leader and fell asleep ranked
    const uint64_t killed_ns = ipc::monotonic_ns();
    cluster.kill(*leader);
    // Every live node follows the successor in its term: each read a frame of the election, and took
    // the death first (Node::catch_up).
    const std::optional<uint32_t> next = cluster.wait_for_leader(20s, *leader);
    ASSERT_TRUE(next) << cluster.log_tail(1) << cluster.log_tail(2);
    const ipc::NodeCounters& elected = cluster.segment().node_counters(*next);
    ASSERT_GT(elected.campaign_ns.load(), killed_ns) << "node " << *next << " was not elected for this death";
    EXPECT_GE(elected.death_elections.load(), 1U) << "node " << *next << " was not elected by the death";
    for (uint32_t node = 1; node <= 5; ++node) {
      if (node == *leader || node == *next) continue;
      const uint64_t taken_ns = cluster.segment().node_counters(node).death_taken_ns.load();
      EXPECT_GT(taken_ns, killed_ns) << "node " << node << " never took the death";
      EXPECT_GE(taken_ns, elected.campaign_ns.load())
          << "round " << round << ": node " << node << " took leader " << *leader << "'s death "
          << (elected.campaign_ns.load() - taken_ns) / 1000 << " us before node " << *next
          << " campaigned: the death woke it";
    }
    cluster.start(*leader);  // back as a follower (with its own watch of the new leader)
    leader = next;
  }
}

}  // namespace
}  // namespace shmraft::node::testing
