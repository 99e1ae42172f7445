// What a host that sleeps between timers relies on: ticks_until_due() names the first tick that does
// more than count, so skipped ticks delivered late change nothing. And Config::broadcast_commit: with
// it off, a new commit index waits for the next AppendEntries or heartbeat instead of going out alone.
#include <gtest/gtest.h>

#include "tests/core/test_cluster.h"

namespace shmraft::raft {
namespace {

using testing::Cluster;

// Ticks `id` (due - 1) times, checking that none of them is observable and that the countdown moves
// by one each time; returns the due tick count it started from.
int tick_until_just_before_due(Cluster& c, NodeId id) {
  Core& core = c.core(id);
  const int due = core.ticks_until_due();
  EXPECT_GE(due, 1);
  const Role role = core.role();
  const Term term = core.term();
  for (int t = 1; t < due; ++t) {
    core.tick();
    EXPECT_FALSE(core.has_ready()) << "tick " << t << " of " << due;
    EXPECT_EQ(core.role(), role);
    EXPECT_EQ(core.term(), term);
    EXPECT_EQ(core.ticks_until_due(), due - t);
  }
  return due;
}

TEST(TicksUntilDue, FollowerIsDueAtItsElectionTimeout) {
  Cluster c(3);
  Core& follower = c.core(1);
  EXPECT_EQ(follower.ticks_until_due(), follower.randomized_election_timeout());
  tick_until_just_before_due(c, 1);
  follower.tick();
  EXPECT_EQ(follower.role(), Role::kPreCandidate);
}

TEST(TicksUntilDue, LeaderIsDueAtEveryHeartbeatAndAtCheckQuorum) {
  Cluster c(3, [](Config& config) {
    config.election_tick = 10;
    config.heartbeat_tick = 3;
  });
  c.elect(1);
  int heartbeats = 0;
  int ticks = 0;
  while (ticks < 60) {
    const int due = tick_until_just_before_due(c, 1);
    EXPECT_LE(due, 3);
    c.tick(1);
    ticks += due;
    if (c.core(1).has_ready()) ++heartbeats;
    c.stabilize();
    EXPECT_EQ(c.core(1).role(), Role::kLeader);
  }
  EXPECT_EQ(heartbeats, ticks / 3);
}

TEST(TicksUntilDue, IsolatedLeaderIsDueWhenCheckQuorumDeposesIt) {
  Cluster c(3, [](Config& config) {
    config.election_tick = 10;
    config.heartbeat_tick = 4;
  });
  c.elect(1);
  c.isolate(1);
  // The answers to its election are stamped at the end of the first tick: the leader is deposed by the
  // tick that makes them more than an election timeout (10) old, and wakes for exactly that one.
  int ticks = 0;
  while (c.core(1).role() == Role::kLeader && ticks < 100) {
    ticks += tick_until_just_before_due(c, 1);
    c.tick(1);
    c.stabilize();
  }
  EXPECT_EQ(c.core(1).role(), Role::kFollower);
  EXPECT_EQ(ticks, 1 + 10 + 1);
}

// A replay of several heartbeat intervals in one tick(n) is one moment: one heartbeat round, not one
// per interval (a leader's replay of two election timeouts would otherwise send ten rounds at once).
TEST(Replay, ALeadersReplaySendsOneHeartbeatRound) {
  Cluster c(3, [](Config& config) {
    config.election_tick = 10;
    config.heartbeat_tick = 2;
  });
  c.elect(1);
  c.core(1).tick(6);
  c.handle_ready(1);
  int heartbeats = 0;
  for (const auto& packet : c.network()) heartbeats += std::holds_alternative<Heartbeat>(packet->decoded());
  EXPECT_EQ(heartbeats, 2);                   // one to each follower
  EXPECT_EQ(c.core(1).ticks_until_due(), 2);  // and the interval restarts where the replay left it
}

TEST(BroadcastCommit, OnByDefaultFollowersLearnTheCommitAtOnce) {
  Cluster c(3);
  c.elect(1);
  c.propose(1, "x");
  c.stabilize();
  EXPECT_EQ(c.core(2).commit_index(), c.core(1).commit_index());
  EXPECT_EQ(c.core(3).commit_index(), c.core(1).commit_index());
}

TEST(BroadcastCommit, OffTheCommitRidesOnTheNextAppendOrHeartbeat) {
  Cluster c(3, [](Config& config) {
    config.broadcast_commit = false;
    config.heartbeat_tick = 2;
  });
  c.elect(1);
  c.tick_all(2);  // a heartbeat brings the followers up to the no-op's commit
  const Index before = c.core(1).commit_index();
  ASSERT_EQ(c.core(2).commit_index(), before);

  c.propose(1, "x");
  c.stabilize();
  EXPECT_EQ(c.core(1).commit_index(), before + 1);
  EXPECT_EQ(c.core(2).commit_index(), before);  // nothing went out just for the commit
  EXPECT_EQ(c.core(3).commit_index(), before);

  c.propose(1, "y");  // the next append carries it
  c.handle_ready(1);
  c.deliver_one();
  c.deliver_one();
  EXPECT_EQ(c.core(2).commit_index(), before + 1);
  EXPECT_EQ(c.core(3).commit_index(), before + 1);
  c.stabilize();

  for (int t = 0; t < 2; ++t) c.tick(1);  // and with nothing to append, the heartbeat does
  c.stabilize();
  EXPECT_EQ(c.core(2).commit_index(), before + 2);
  EXPECT_EQ(c.core(3).commit_index(), before + 2);
}

}  // namespace
}  // namespace shmraft::raft
