// A leader whose loop does not run for longer than two election timeouts while its followers keep
// answering stays leader. Stopping it with SIGSTOP is, to its loop, one iteration that long (what 65 536
// client requests drained at once, or a snapshot's fork, did at 4 096 clients). On waking it replays at
// most one election timeout of missed ticks (Node::tick_until), so a single CheckQuorum judges the
// followers' answers read meanwhile; two in one replay would judge the second on none and depose it in
// its own term. Label `cluster`, run serially.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <string>
#include <thread>

#include "node/process/node_counters.h"
#include "tests/node/test_cluster.h"

namespace shmraft::node::testing {
namespace {

using namespace std::chrono_literals;

TEST(LeaderStall, ALeaderStoppedForMoreThanTwoElectionTimeoutsWhileItsFollowersAnswerKeepsLeading) {
  TestCluster cluster(3, "leader-stall");
  // Node 1 keeps the default timing (elections after 150-300 ms, CheckQuorum every 150 ms) and so is
  // elected first. Its followers would not start an election for 1-2 s, nor suspect a stopped leader
  // (stall watch off): only the leader's own replay can end its term here.
  for (uint32_t node = 2; node <= 3; ++node) {
    cluster.options(node).election_ticks = 200;
    cluster.options(node).stall_us = 0;
  }
  cluster.start_all();
  ASSERT_EQ(cluster.wait_for_leader(10s), 1U) << cluster.log_tail(1);
  ipc::NodeCounters& leader = cluster.segment().node_counters(1);
  const uint64_t term = leader.term.load();
  const auto pid = static_cast<pid_t>(leader.pid.load());
  std::this_thread::sleep_for(100ms);  // heartbeats answered: the first CheckQuorum passed

  // 2.5 election timeouts: 75 missed ticks, of which the replay cap of two timeouts would replay 60.
  const auto election_timeout =
      std::chrono::microseconds(uint64_t{cluster.options(1).tick_us} * cluster.options(1).election_ticks);
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  std::this_thread::sleep_for(election_timeout * 5 / 2);
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  std::this_thread::sleep_for(election_timeout * 3);  // the replay and a few CheckQuorums after it

  EXPECT_EQ(leader.role.load(), kRoleLeader) << cluster.log_tail(1);
  EXPECT_EQ(leader.term.load(), term) << cluster.log_tail(1);
  EXPECT_EQ(cluster.log_tail(1, 1000).find("stepped down"), std::string::npos) << cluster.log_tail(1);
}

}  // namespace
}  // namespace shmraft::node::testing
