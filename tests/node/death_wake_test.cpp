// At a leader's death the kernel wakes only the follower ranked first to succeed it (the furthest log,
// then the lowest id; Node::stagger_rank), which campaigns at once. The others sleep on: they learn of the
// death from its vote request, which they grant. Woken all at once, the 4 survivors of a 5-node cluster
// held the host's 2 CPUs while the candidate waited for one. Label `cluster`, run serially.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <thread>

#include "ipc/clock.h"
#include "node/process/node_counters.h"
#include "tests/node/test_cluster.h"

namespace shmraft::node::testing {
namespace {

using namespace std::chrono_literals;

bool every_follower_follows(TestCluster& cluster, uint32_t leader, std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool all = true;
    for (uint32_t node = 1; node <= cluster.nodes(); ++node)
      if (node != leader && cluster.segment().node_counters(node).leader.load() != leader) all = false;
    if (all) return true;
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(1ms);
  }
}

TEST(DeathWake, OnlyTheFirstRankedFollowerWakesAtItsLeadersDeathAndTheOthersVoteWhenAsked) {
  TestCluster cluster(5, "death-wake");
  // The progress watch looks at the leader once a second: nothing but the candidate's vote request wakes
  // the other followers within an election (their election timers are 150-300 ms away).
  for (uint32_t node = 1; node <= 5; ++node) cluster.options(node).stall_us = 1'000'000;
  cluster.start_all();
  std::optional<uint32_t> leader = cluster.wait_for_leader(20s);
  ASSERT_TRUE(leader);
  for (int round = 0; round < 5; ++round) {
    // Every follower heard the leader — the one restarted last round too, which under a sanitizer may
    // take longer than any fixed pause (a follower that knows no leader listens for every death) — and
    // then fell asleep ranked.
    ASSERT_TRUE(every_follower_follows(cluster, *leader, 60s)) << "round " << round;
    std::this_thread::sleep_for(100ms);
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

// The vote request can come first: the dying process's holder thread marks its peers' cells one by one,
// and the survivor woken by the first may take the holder's CPU before the next is marked (a real-time
// loop preempts it at once). The voter then finds no death, its lease holds the request, and from then
// on it listens for the death, ranked first or not. Here the candidate campaigns on its stopped leader
// (stall watch) and the leader is killed after the voter held the request: nothing but the death can
// wake the voter within 10 s (its stall watch, and every election timer, are 10 s or more away).
TEST(DeathWake, AFollowerWhoseLeaseHeldAVoteRequestIsWokenByTheDeath) {
  TestCluster cluster(3, "death-wake-held");
  // Node 3 keeps the default timing and is elected first. Nodes 1 and 2 would campaign on their own after
  // 10-20 s; node 1 suspects a stopped leader after the default stall time, node 2 after 10 s.
  for (uint32_t node = 1; node <= 2; ++node) cluster.options(node).election_ticks = 2000;
  cluster.options(2).stall_us = 10'000'000;
  cluster.start_all();
  ASSERT_EQ(cluster.wait_for_leader(20s), 3U) << cluster.log_tail(3);
  const ipc::NodeCounters& candidate = cluster.segment().node_counters(1);
  const ipc::NodeCounters& voter = cluster.segment().node_counters(2);
  const uint64_t term = voter.term.load();
  std::this_thread::sleep_for(100ms);  // both followers heard the leader: node 2 ranks itself second
  ASSERT_EQ(kill(static_cast<pid_t>(cluster.segment().node_counters(3).pid.load()), SIGSTOP), 0);
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (candidate.stall_elections.load() == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up)
        << "node 1 never suspected the stopped leader" << cluster.log_tail(1);
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(100ms);  // its vote request reached node 2
  ASSERT_EQ(candidate.role.load(), kRoleCandidate) << cluster.log_tail(1) << cluster.log_tail(2);
  ASSERT_EQ(candidate.term.load(), term + 1);
  ASSERT_EQ(voter.term.load(), term) << "node 2's lease did not hold the request" << cluster.log_tail(2);

  const uint64_t killed_ns = ipc::monotonic_ns();
  cluster.kill(3);
  EXPECT_EQ(cluster.wait_for_leader(5s, 3), std::optional<uint32_t>(1))
      << "node 2 slept through the death it held node 1's vote request for" << cluster.log_tail(1)
      << cluster.log_tail(2);
  EXPECT_GT(voter.death_taken_ns.load(), killed_ns) << "node 2 never took the death";
  EXPECT_EQ(candidate.term.load(), term + 1) << "node 1 needed another term";
}

}  // namespace
}  // namespace shmraft::node::testing
