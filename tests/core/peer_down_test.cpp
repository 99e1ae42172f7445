// Death signals (issue 13): Core::peer_down starts an election when the leader's process is gone — the
// node ranked first at once and without a pre-vote, the others after their stagger with one. Liveness
// only: terms and votes keep it safe, and a wrong signal costs at most an election.
#include <gtest/gtest.h>

#include <set>

#include "tests/core/test_cluster.h"

namespace shmraft::raft {
namespace {

using testing::Cluster;

// Node 1 leads, then its process dies (cut off from everyone); returns the term it led.
Term leader_1_dies(Cluster& c) {
  c.elect(1);
  const Term t = c.core(1).term();
  c.isolate(1);
  return t;
}

// Node 2 leads the term after `t`, and node 3 never campaigned for it.
void expect_2_leads_alone(Cluster& c, Term t) {
  EXPECT_EQ(c.leader(), 2u);
  EXPECT_EQ(c.core(2).term(), t + 1);
  EXPECT_EQ(c.core(3).elections_by_peer_down(), 0u);
}

// The followers that saw the leader die forget it, so their lease no longer refuses the first one's
// vote request; the election completes with message exchanges alone, without a tick.
TEST(PeerDown, LeaderDeathElectsWithoutTicks) {
  Cluster c(3);
  const Term t = leader_1_dies(c);
  EXPECT_FALSE(c.core(3).leader() == kNoNode);
  EXPECT_TRUE(c.core(3).peer_down(1, 1));  // the later one in the stagger: waits a tick
  EXPECT_EQ(c.core(3).leader(), kNoNode);
  EXPECT_TRUE(c.core(2).peer_down(1));  // the first: campaigns now
  c.stabilize();
  EXPECT_EQ(c.leader(), 2u);
  EXPECT_EQ(c.core(2).term(), t + 1);
  EXPECT_EQ(c.core(3).leader(), 2u);
  EXPECT_EQ(c.core(2).elections_by_peer_down(), 1u);
  // The staggered node heard the new leader before its turn: no second election.
  c.tick_all(3);
  expect_2_leads_alone(c, t);
}

// Node 2 holds an entry node 3 lacks; node 1 dies.
void node_3_lags_and_leader_1_dies(Cluster& c) {
  c.elect(1);
  c.drop_if = [](const Message& m) { return message_to(m) == 3 && std::holds_alternative<AppendEntries>(m); };
  c.propose(1, "only-2-has-it");
  c.stabilize();
  c.drop_if = nullptr;
  c.isolate(1);
  ASSERT_LT(c.core(3).log().last_index(), c.core(2).log().last_index());
}

// Counters that lag rank the node whose log is behind first. §5.4.1 refuses its log, and the node that
// refuses it, having heard of the death too, campaigns past it at once (the next term) rather than wait
// for its own turn: without a tick.
TEST(PeerDown, AFollowerWhoseLogBeatsTheFirstCandidateCampaignsPastIt) {
  Cluster c(3);
  node_3_lags_and_leader_1_dies(c);
  EXPECT_TRUE(c.core(2).peer_down(1, 2));
  EXPECT_TRUE(c.core(3).peer_down(1));  // wrongly ranked first
  c.stabilize();
  EXPECT_EQ(c.leader(), 2u) << "no leader without ticks";
  EXPECT_EQ(c.core(2).elections_by_peer_down(), 1u);
}

// The same when the wrongly-ranked node's request came before the better node's death signal (its lease
// ignored it then). Its own turn's pre-vote would ask in the candidate's term, in which the candidate
// holds its own vote: refused, and no leader before an election timeout (seen: 250 ms, 3 nodes).
TEST(PeerDown, ACandidateWhoseLogIsBehindIsPassedWhenTheBetterNodeHearsOfTheDeath) {
  Cluster c(3);
  node_3_lags_and_leader_1_dies(c);
  EXPECT_TRUE(c.core(3).peer_down(1));  // wrongly ranked first
  c.stabilize();                        // node 2's lease ignores the request
  ASSERT_EQ(c.core(3).role(), Role::kCandidate);
  EXPECT_TRUE(c.core(2).peer_down(1, 2));
  c.stabilize();
  EXPECT_EQ(c.leader(), 2u) << "no leader without ticks";
  EXPECT_EQ(c.core(2).term(), c.core(3).term());
}

// Counters that lag can rank two survivors first at once. Both campaign in the same term, each with its
// own vote, and with 3 nodes neither can win: the vote is split. The one that ranks first (equal logs:
// the lower id) campaigns again at once when it hears the other, which grants it the next term — one
// more round, not an election timeout.
TEST(PeerDown, TwoSurvivorsRankedFirstSettleTheSplitVoteWithoutATimeout) {
  Cluster c(3);
  const Term t = leader_1_dies(c);
  ASSERT_EQ(c.core(2).log().last_index(), c.core(3).log().last_index());
  EXPECT_TRUE(c.core(3).peer_down(1));
  EXPECT_TRUE(c.core(2).peer_down(1));
  c.stabilize();
  EXPECT_EQ(c.leader(), 2u) << "the split vote waits for an election timeout";
  EXPECT_EQ(c.core(2).term(), t + 2);
  EXPECT_EQ(c.core(3).vote(), 2u);
  EXPECT_EQ(c.core(3).elections_by_peer_down(), 1u);  // its one candidacy, in term t + 1
}

// §9.6 pre-vote and our stagger: the second in the stagger may start before the first took its death
// signal (the dying process's teardown delayed it). When the first one's pre-vote reaches the second,
// already a pre-candidate, the second steps back rather than win its own pre-vote too: with both
// candidates in one term, the two other voters could split the real vote 2 against 2.
TEST(PeerDown, APreCandidateThatGrantsAnEarlierRankedPreVoteStepsBack) {
  Cluster c(5);
  const Term t = leader_1_dies(c);
  EXPECT_TRUE(c.core(3).peer_down(1, 1));  // second in the stagger ...
  c.tick(3);                               // ... and its turn comes first
  ASSERT_EQ(c.core(3).role(), Role::kPreCandidate);
  EXPECT_TRUE(c.core(2).peer_down(1));  // the first, late
  EXPECT_TRUE(c.core(4).peer_down(1, 2));
  EXPECT_TRUE(c.core(5).peer_down(1, 3));
  c.stabilize();
  EXPECT_EQ(c.leader(), 2u);
  EXPECT_EQ(c.core(2).term(), t + 1);
  EXPECT_EQ(c.core(3).vote(), 2u) << "node 3 campaigned in the same term as node 2";
  EXPECT_EQ(c.core(3).elections_by_peer_down(), 0u);
  EXPECT_EQ(c.core(3).role(), Role::kFollower);
  EXPECT_EQ(c.core(3).leader(), 2u);
  c.tick_all(4);  // no staggered turn is left to fire
  EXPECT_EQ(c.leader(), 2u);
  for (NodeId id = 2; id <= 5; ++id) EXPECT_EQ(c.core(id).term(), t + 1) << "node " << id;
}

// A staggered follower that granted the first one's vote does not campaign at its own turn while that
// one is still collecting votes (a slow persist, a loaded host): one candidate, one term.
TEST(PeerDown, StaggeredFollowerThatGrantedAPreVoteKeepsOutOfTheWay) {
  Cluster c(3);
  const Term t = leader_1_dies(c);
  EXPECT_TRUE(c.core(3).peer_down(1, 1));
  EXPECT_TRUE(c.core(2).peer_down(1));
  c.handle_ready(2);
  while (c.deliver_one()) {
  }
  c.handle_ready(3);    // 3 grants the vote; 2 has not heard back yet
  c.network().clear();  // ... and will not: its grant is lost
  for (int k = 0; k < 3; ++k) c.tick(3);
  EXPECT_EQ(c.core(3).role(), Role::kFollower);
  EXPECT_EQ(c.core(3).term(), t + 1);
  EXPECT_EQ(c.core(3).vote(), 2u);
  EXPECT_EQ(c.core(3).elections_by_peer_down(), 0u);
}

// The kernel tells each survivor separately: a vote request may reach a voter before its own death
// signal. The lease ignores it then, and peer_down answers it: no retry, no tick.
TEST(PeerDown, VoteRequestThatArrivedBeforeTheVotersSignalIsAnsweredByIt) {
  Cluster c(3);
  const Term t = leader_1_dies(c);
  EXPECT_TRUE(c.core(2).peer_down(1));
  c.stabilize();  // 3 still holds the lease: it ignores 2's vote request
  EXPECT_EQ(c.core(2).role(), Role::kCandidate);
  EXPECT_TRUE(c.core(3).holds_vote_requests());  // what tells its host to listen for the death
  EXPECT_FALSE(c.core(2).holds_vote_requests());
  EXPECT_TRUE(c.core(3).peer_down(1, 1));
  EXPECT_FALSE(c.core(3).holds_vote_requests());  // answered
  c.stabilize();
  expect_2_leads_alone(c, t);
}

// A request the lease held is dropped at a term change: the host stops listening for its reason then.
TEST(PeerDown, AVoteRequestHeldInTheLeaseIsForgottenAtANewTerm) {
  Cluster c(3);
  c.elect(1);
  c.core(2).campaign();  // its election timer, while the leader lives
  c.stabilize();         // 3's lease ignores the pre-vote and holds it
  ASSERT_TRUE(c.core(3).holds_vote_requests());
  ASSERT_EQ(c.core(1).transfer_leader(3), Status::kOk);  // a newer term, and a leader, for 3
  c.stabilize();
  ASSERT_EQ(c.leader(), 3u);
  EXPECT_FALSE(c.core(3).holds_vote_requests());
}

// Seen in `shmraft bench --failover --nodes 5 --clients 16` (3 events in 200 waited an election
// timeout): a restarted node's first iteration replays its log for longer than an election timeout, so
// it campaigns while the leader lives. The others' leases ignore its pre-vote and remember it; the node
// then hears the leader and catches up. When the leader dies, the others answer that old pre-vote. A
// refusal then (its log was behind) would reach it in the round the same death signal started and lose
// it that round, though they grant the new one and keep out of its way: no leader for an election
// timeout. They answer only with a grant.
TEST(PeerDown, AnOldPreVoteRememberedInTheLeaseIsNotRefusedOnTheDeathSignal) {
  Cluster c(5);
  c.elect(1);
  const Term t = c.core(1).term();
  c.drop_if = [](const Message& m) { return message_to(m) == 2 && std::holds_alternative<AppendEntries>(m); };
  c.propose(1, "2-misses-it");
  c.stabilize();
  c.drop_if = nullptr;
  c.core(2).campaign();  // its election timer, while the leader lives
  c.stabilize();         // every lease ignores the pre-vote
  for (int k = 0; k < c.core(1).config().heartbeat_tick; ++k) c.tick(1);
  c.stabilize();  // 2 follows the leader again and catches up
  ASSERT_EQ(c.core(2).role(), Role::kFollower);
  ASSERT_EQ(c.core(2).log().last_index(), c.core(3).log().last_index());

  c.isolate(1);
  for (NodeId id = 3; id <= 5; ++id) {  // their signals come first
    EXPECT_TRUE(c.core(id).peer_down(1, static_cast<int>(id) - 2));
    c.handle_ready(id);
  }
  EXPECT_TRUE(c.core(2).peer_down(1));
  c.stabilize();
  EXPECT_EQ(c.leader(), 2u);
  EXPECT_EQ(c.core(2).term(), t + 1);
  EXPECT_EQ(c.core(2).elections_by_peer_down(), 1u);
}

// A pre-candidate that gives up before its requests went out (here: late refusals of an earlier round
// in its term lose it this one) does not send them: voters that granted one would keep out of the way
// of a node no longer campaigning, and their own staggered turns would be lost with it.
TEST(PeerDown, VoteRequestsOfACandidacyGivenUpAreNotSent) {
  Cluster c(5);
  const Term t = leader_1_dies(c);
  for (NodeId id = 3; id <= 5; ++id) EXPECT_TRUE(c.core(id).peer_down(1, static_cast<int>(id) - 1));
  EXPECT_TRUE(c.core(2).peer_down(1, 1));
  c.tick(2);  // its staggered turn: a pre-vote
  ASSERT_EQ(c.core(2).role(), Role::kPreCandidate);
  for (NodeId id = 3; id <= 5; ++id) c.core(2).step(VoteResponse{id, 2, t, true, false});
  ASSERT_EQ(c.core(2).role(), Role::kFollower);
  c.stabilize();
  for (int k = 0; k < 3 && c.leader() == kNoNode; ++k) c.tick_all();
  EXPECT_EQ(c.leader(), 3u) << "no leader within the stagger's turns";
  EXPECT_EQ(c.core(3).term(), t + 1);
}

// Two candidates of one term split 5 voters 2 against 2 (the dead leader's vote is lost): without the
// first-ranked one campaigning again at once, no leader comes before an election timeout.
TEST(PeerDown, ASplitVoteOfTwoDeathStartedCandidatesIsSettledAtOnce) {
  Cluster c(5);
  const Term t = leader_1_dies(c);
  EXPECT_TRUE(c.core(4).peer_down(1, 2));
  EXPECT_TRUE(c.core(5).peer_down(1, 3));
  EXPECT_TRUE(c.core(2).peer_down(1));
  EXPECT_TRUE(c.core(3).peer_down(1));
  c.drop_if = [t](const Message& m) {  // 4 hears only 3, 5 only 2
    const auto* v = std::get_if<VoteRequest>(&m);
    return v != nullptr && v->term == t + 1 &&
           ((message_to(m) == 4 && v->from == 2) || (message_to(m) == 5 && v->from == 3));
  };
  c.stabilize();
  c.drop_if = nullptr;
  EXPECT_EQ(c.leader(), 2u) << "the split vote waits for an election timeout";
  EXPECT_EQ(c.core(2).term(), t + 2);
}

// A false death signal at one follower costs an election, at most: the candidate's newer term deposes
// the live leader, and terms and votes still allow one leader per term, with every committed entry.
TEST(PeerDown, FalseSignalCostsAtMostAnElection) {
  Cluster c(3);
  c.elect(1);
  c.propose(1, "committed");
  c.stabilize();
  const Index committed = c.core(1).commit_index();
  EXPECT_TRUE(c.core(2).peer_down(1));
  c.stabilize();
  int ticks = 0;
  while (c.leader() == kNoNode || c.core(c.leader()).commit_index() <= committed) {
    ASSERT_LT(ticks, 4 * c.core(1).config().election_tick) << "no leader after the false signal";
    c.tick_all();
    ++ticks;
  }
  EXPECT_EQ(c.core(2).elections_by_peer_down(), 1u);
  for (NodeId id = 1; id <= 3; ++id) EXPECT_GE(c.core(id).log().last_index(), committed) << "node " << id;
}

// False signals everywhere, repeatedly, with ticks in between: never two leaders in one term.
TEST(PeerDown, RepeatedFalseSignalsNeverMakeTwoLeadersInATerm) {
  Cluster c(5);
  c.elect(1);
  std::set<std::pair<Term, NodeId>> leaders;
  for (int round = 0; round < 40; ++round) {
    const NodeId victim = c.core(1 + round % 5).leader();
    for (NodeId id = 1; id <= 5; ++id)
      if ((id + round) % 3 != 0) c.core(id).peer_down(victim == kNoNode ? 1 : victim, round % 3);
    c.tick_all(1 + round % 4);
    for (NodeId id = 1; id <= 5; ++id)
      if (c.core(id).role() == Role::kLeader) leaders.insert({c.core(id).term(), id});
  }
  std::set<Term> terms;
  for (const auto& [term, id] : leaders)
    EXPECT_TRUE(terms.insert(term).second) << "two leaders in term " << term;
}

// peer_down of a non-leader, on a candidate or on the leader itself changes nothing.
TEST(PeerDown, HarmlessUnlessItNamesTheFollowedLeader) {
  Cluster c(3);
  c.elect(1);
  const Term t = c.core(1).term();
  EXPECT_FALSE(c.core(2).peer_down(3));  // a follower's death
  EXPECT_FALSE(c.core(1).peer_down(2));  // the leader hears of a follower's death
  EXPECT_FALSE(c.core(1).peer_down(1));
  EXPECT_FALSE(c.core(2).peer_down(kNoNode));
  c.stabilize();
  EXPECT_EQ(c.leader(), 1u);
  EXPECT_EQ(c.core(2).leader(), 1u);
  EXPECT_EQ(c.core(2).term(), t);

  Cluster d(3, [](Config& cfg) { cfg.pre_vote = false; });
  d.core(2).campaign();
  ASSERT_EQ(d.core(2).role(), Role::kCandidate);
  EXPECT_FALSE(d.core(2).peer_down(1));
  EXPECT_EQ(d.core(2).role(), Role::kCandidate);
}

}  // namespace
}  // namespace shmraft::raft
