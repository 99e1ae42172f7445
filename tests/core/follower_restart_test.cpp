// A follower that restarts — possibly with less log than it acknowledged (a wiped or damaged store) — is
// noticed by its leader through the incarnation every response carries (Config::incarnation). The Raft
// dissertation (§3.8) assumes a restarted server kept what it persisted; "Protocol-Aware Recovery for
// Consensus-Based Storage" (Alagappan et al., FAST'18) shows what breaks when it did not. Here: the leader
// catches such a follower up instead of dropping its rejections as stale, and stops counting the match
// index (Figure 2's matchIndex) that only the previous incarnation vouched for.
#include <gtest/gtest.h>

#include <string>

#include "tests/core/test_cluster.h"

namespace shmraft::raft {
namespace {

using testing::Cluster;

void propose_some(Cluster& c, NodeId leader, int count) {
  for (int k = 0; k < count; ++k) ASSERT_EQ(c.propose(leader, std::to_string(k)).status, Status::kOk);
  c.stabilize();
}

// Its rejections are at or below the match index its previous incarnation earned; without the
// incarnation the leader took them for stale and never caught the follower up while it stayed leader.
TEST(FollowerRestart, WipedFollowerIsCaughtUpByTheSameLeaderFromARejection) {
  Cluster c(3);
  c.elect(1);
  propose_some(c, 1, 5);
  ASSERT_EQ(c.core(1).progress(3).match, c.core(1).log().last_index());

  c.restart_wiped(3);
  ASSERT_EQ(c.core(3).log().last_index(), 0u);
  propose_some(c, 1, 1);  // its AppendEntries (prev = the old match) is rejected by the new incarnation

  EXPECT_EQ(c.leader(), 1u);
  EXPECT_EQ(c.core(1).progress_resets(), 1u);
  EXPECT_EQ(c.log_terms(3), c.log_terms(1));
  EXPECT_EQ(c.core(1).progress(3).match, c.core(1).log().last_index());
  EXPECT_EQ(c.core(3).commit_index(), c.core(1).commit_index());
}

// With nothing new to send, the first sign of the restart is a heartbeat response.
TEST(FollowerRestart, WipedFollowerIsCaughtUpByTheSameLeaderFromAHeartbeat) {
  Cluster c(3);
  c.elect(1);
  propose_some(c, 1, 5);

  c.restart_wiped(2);
  c.tick(1);  // a heartbeat
  c.stabilize();

  EXPECT_EQ(c.core(1).progress_resets(), 1u);
  EXPECT_EQ(c.log_terms(2), c.log_terms(1));
  EXPECT_EQ(c.core(1).progress(2).match, c.core(1).log().last_index());
}

// A rejection at or below the match index from the incarnation that earned it is stale (a reordered or
// duplicated answer to an earlier probe) and changes nothing; so is anything a replaced incarnation sent.
TEST(FollowerRestart, StaleRejectionsAreIgnored) {
  Cluster c(3);
  c.elect(1);
  propose_some(c, 1, 5);
  const Term term = c.core(1).term();
  const Index match = c.core(1).progress(2).match;
  const std::uint64_t first = c.core(2).config().incarnation;
  const AppendResponse stale{.from = 2,
                             .to = 1,
                             .term = term,
                             .success = false,
                             .reject_index = match - 1,
                             .conflict_index = 1,
                             .conflict_term = 0,
                             .incarnation = first};
  c.core(1).step(stale);
  EXPECT_EQ(c.core(1).progress(2).match, match);
  EXPECT_EQ(c.core(1).progress(2).next, match + 1);
  EXPECT_EQ(c.core(1).progress(2).state, ProgressState::kReplicate);
  EXPECT_EQ(c.core(1).progress_resets(), 0u);

  c.restart(2);  // keeps its log: the new incarnation is reset, then re-earns its match at once
  c.tick(1);
  c.stabilize();
  ASSERT_NE(c.core(2).config().incarnation, first);
  ASSERT_EQ(c.core(1).progress_resets(), 1u);
  ASSERT_EQ(c.core(1).progress(2).match, match);

  c.core(1).step(stale);  // late, from the process that is gone
  EXPECT_EQ(c.core(1).progress(2).match, match);
  EXPECT_EQ(c.core(1).progress(2).state, ProgressState::kReplicate);
  EXPECT_EQ(c.core(1).progress_resets(), 1u);
}

// Five nodes; x reaches the leader and node 2 only. Node 2 restarts wiped and hears nothing but
// heartbeats; node 3 then stores x. Leader, 2's old incarnation and 3 would be a majority — but the only
// vouchers alive are the leader and 3, so x must wait until node 2 holds it again.
TEST(FollowerRestart, MatchOfAPreviousIncarnationDoesNotCountTowardsCommit) {
  Cluster c(5);
  c.elect(1);
  c.isolate(3);
  c.isolate(4);
  c.isolate(5);
  const ProposeResult x = c.propose(1, "x");
  ASSERT_EQ(x.status, Status::kOk);
  c.stabilize();
  ASSERT_EQ(c.core(1).progress(2).match, x.index);
  const Index commit_before = c.core(1).commit_index();
  ASSERT_LT(commit_before, x.index);  // two of five

  c.restart_wiped(2);
  c.drop_if = [](const Message& m) { return std::holds_alternative<AppendEntries>(m) && message_to(m) == 2; };
  c.tick(1);
  c.stabilize();
  ASSERT_EQ(c.core(1).progress_resets(), 1u);
  EXPECT_EQ(c.core(1).progress(2).match, 0u);

  c.reconnect(3);
  c.tick(1);
  c.stabilize();
  ASSERT_EQ(c.core(1).progress(3).match, x.index);
  EXPECT_EQ(c.core(1).commit_index(), commit_before) << "x counted through node 2's previous incarnation";

  c.drop_if = nullptr;
  c.tick(1);
  c.stabilize();
  EXPECT_EQ(c.core(1).progress(2).match, x.index);
  EXPECT_EQ(c.core(1).commit_index(), x.index);
  EXPECT_EQ(c.log_terms(2), c.log_terms(1));
}

// A reset only ever lowers a match index: the commit index, on the leader and on the follower, stays.
TEST(FollowerRestart, CommitIndexNeverMovesBack) {
  Cluster c(3);
  c.elect(1);
  propose_some(c, 1, 3);
  const Index commit = c.core(1).commit_index();
  ASSERT_EQ(commit, c.core(1).log().last_index());

  c.restart_wiped(2);
  c.restart_wiped(3);  // both followers lost everything: no quorum vouches for anything now
  c.tick(1);
  c.handle_all_ready();
  while (c.deliver_one()) {
    c.handle_all_ready();
    ASSERT_GE(c.core(1).commit_index(), commit);
  }
  EXPECT_EQ(c.core(1).progress_resets(), 2u);
  EXPECT_EQ(c.core(1).commit_index(), commit);
  EXPECT_EQ(c.log_terms(2), c.log_terms(1));
  EXPECT_EQ(c.log_terms(3), c.log_terms(1));
}

}  // namespace
}  // namespace shmraft::raft
