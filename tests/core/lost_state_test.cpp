// A node that lost its durable state (Config::state_lost; core.h, "Lost state"): it never votes on what it
// forgot, and the leader repairs it through one-at-a-time membership changes (dissertation §4.1) — removed,
// added back as a learner (§4.2.1), promoted once caught up. The hazard is §3.6's one vote per term
// (Figure 2's votedFor is persistent state): a node that forgot its vote could vote twice in one term.
#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tests/core/test_cluster.h"

namespace shmraft::raft {
namespace {

using testing::Cluster;

constexpr int kManyTicks = 100;  // several election timeouts

void propose_some(Cluster& c, NodeId leader, int count) {
  for (int k = 0; k < count; ++k) ASSERT_EQ(c.propose(leader, std::to_string(k)).status, Status::kOk);
  c.stabilize();
}

// The configuration changes in `id`'s log, in order.
std::vector<ConfChange> conf_changes(Cluster& c, NodeId id) {
  std::vector<ConfChange> changes;
  const RaftLog& log = c.core(id).log();
  std::vector<Entry> entries;
  log.slice(log.first_index(), log.last_index() + 1, SIZE_MAX, entries);
  for (const Entry& e : entries)
    if (e.type == EntryType::kConfChange) changes.push_back(decode_conf_change(e.data).change);
  return changes;
}

// The repair of `node` by `leader` is done: exactly `changes` in the leader's log, one repair counted, the
// node out of lost mode (durably), every node in configuration `conf`, the node's log the leader's.
void expect_repaired(Cluster& c, NodeId leader, NodeId node, const std::vector<ConfChange>& changes,
                     const ConfState& conf) {
  EXPECT_EQ(conf_changes(c, leader), changes);
  EXPECT_EQ(c.core(leader).repairs(), 1u);
  EXPECT_EQ(c.core(node).lost(), 0u);
  EXPECT_EQ(c.storage(node).hard_state().lost, 0u);
  for (NodeId id = 1; id <= c.size(); ++id) EXPECT_EQ(c.core(id).conf_state(), conf) << "node " << id;
  EXPECT_EQ(c.log_terms(node), c.log_terms(leader));
}

bool granted_a_vote(Cluster& c, NodeId from) {
  for (auto& packet : c.network()) {
    if (packet->from != from) continue;
    const Message m = packet->decoded();
    if (const auto* v = std::get_if<VoteResponse>(&m); v != nullptr && v->granted) return true;
  }
  return false;
}

// §3.6 / Figure 2 (votedFor survives restarts): without its record the node cannot know whom it voted for,
// so while lost it grants no vote and no pre-vote, never campaigns and ignores TimeoutNow.
TEST(LostState, Section3_6_NeverVotesOrCampaignsWhileLost) {
  Cluster c(3);
  c.elect(1);
  propose_some(c, 1, 3);
  c.isolate(1);  // no leader to repair it
  c.restart_lost(3);
  c.stabilize();
  EXPECT_NE(c.core(3).lost(), 0u);
  EXPECT_EQ(c.storage(3).hard_state().lost, c.core(3).lost()) << "the lost mark is persisted";

  for (const bool pre_vote : {true, false}) {
    c.core(3).step(VoteRequest{2, 3, c.core(3).term() + 1, 100, 100, pre_vote, false});
    c.handle_ready(3);
    EXPECT_FALSE(granted_a_vote(c, 3)) << (pre_vote ? "pre-vote" : "vote");
    c.network().clear();
  }
  c.core(3).step(TimeoutNow{2, 3, c.core(3).term()});
  for (int t = 0; t < kManyTicks; ++t) {
    c.tick(3);
    c.tick(2);
    c.stabilize();
    ASSERT_EQ(c.core(3).role(), Role::kFollower);
  }
  EXPECT_EQ(c.core(3).vote(), kNoNode);
  EXPECT_NE(c.core(2).role(), Role::kLeader) << "node 2 won with the vote of a node that forgot its vote";
}

// A restart while lost stays lost: the mark is in the hard state, whatever the next start believes.
TEST(LostState, RestartWhileLostStaysLost) {
  Cluster c(3);
  c.elect(1);
  propose_some(c, 1, 3);
  c.isolate(1);
  c.restart_lost(3);
  c.stabilize();
  const std::uint64_t lost = c.core(3).lost();
  ASSERT_NE(lost, 0u);

  c.restart(3);  // a start that sees an intact directory
  EXPECT_EQ(c.core(3).lost(), lost) << "the repair names the start that lost the state";
  c.core(3).step(VoteRequest{2, 3, c.core(3).term() + 1, 100, 100, false, false});
  c.handle_ready(3);
  EXPECT_FALSE(granted_a_vote(c, 3));
}

// §4.1 (one server at a time) and §4.2.1 (learners catch up before they vote): the leader removes the lost
// voter, adds it back as a learner, and promotes it once it left lost mode and holds the committed log.
TEST(LostState, Section4_1_LeaderRemovesThenAddsALearnerThenPromotes) {
  Cluster c(3);
  c.elect(1);
  propose_some(c, 1, 5);
  c.restart_lost(3);
  const std::uint64_t lost = c.core(3).lost();
  ASSERT_NE(lost, 0u);
  c.tick_all(kManyTicks);

  ConfState all;
  for (const NodeId id : {1u, 2u, 3u}) all.voters.insert(id);
  expect_repaired(c, 1, 3,
                  {{ConfChangeType::kRemoveNode, 3, lost},
                   {ConfChangeType::kAddLearner, 3, lost},
                   {ConfChangeType::kPromoteLearner, 3, 0}},
                  all);

  // Repaired, it votes again: with node 1 gone, 2 and 3 elect a leader.
  c.isolate(1);
  c.tick_all(kManyTicks);
  EXPECT_NE(c.leader(), kNoNode);
}

// A response the lost node sent before its repair, delivered late (the network reorders), must not start
// a second repair of a node that is no longer lost: the removal would take a healthy voter out, and with
// another voter lost next the configuration could be left without a majority that can vote.
TEST(LostState, ALateLostReportAfterTheRepairIsIgnored) {
  Cluster c(3);
  c.elect(1);
  propose_some(c, 1, 3);
  c.restart_lost(3);
  c.tick(1);
  std::unique_ptr<testing::Packet> late;  // node 3's first answer to the leader, saying it is lost
  while (!late && (c.handle_all_ready() | c.deliver_one())) {
    for (auto& packet : c.network()) {
      if (packet->from == 3 && std::holds_alternative<HeartbeatResponse>(packet->decoded())) {
        late = std::move(packet);
        break;
      }
    }
  }
  ASSERT_TRUE(late);
  ASSERT_NE(std::get<HeartbeatResponse>(late->decoded()).lost, 0u);
  std::erase(c.network(), nullptr);
  c.tick_all(kManyTicks);
  ASSERT_EQ(c.core(3).lost(), 0u);
  ASSERT_EQ(conf_changes(c, 1).size(), 3u);

  c.core(1).step(late->decoded());
  c.tick_all(kManyTicks);
  EXPECT_EQ(conf_changes(c, 1).size(), 3u) << "a second repair started";
  EXPECT_EQ(c.core(1).repairs(), 1u);
  EXPECT_TRUE(c.core(1).conf_state().voters.contains(3));
}

// What a follower said of its lost state is news of the term it was said in: another leader may repair
// the node since. A leader elected again that acted on its old word would repair a healthy voter, taking
// it out; with another voter lost next, the two voters left — one of them lost — could elect no one
// (simulator, profile lost, seed 15192).
TEST(LostState, ALeaderElectedAgainDoesNotRepairWhatAnotherLeaderRepaired) {
  Cluster c(3);
  c.elect(1);
  propose_some(c, 1, 3);
  c.restart_lost(3);
  // Node 1 hears node 3 say it is lost, and nothing more from it.
  for (int t = 0; t < kManyTicks && c.core(1).progress(3).lost == 0; ++t) {
    c.tick(1);
    while (c.core(1).progress(3).lost == 0 && (c.handle_all_ready() | c.deliver_one())) {
    }
  }
  ASSERT_NE(c.core(1).progress(3).lost, 0u);
  c.isolate(3);
  c.stabilize();

  // Node 2 takes over and repairs node 3.
  ASSERT_EQ(c.core(1).transfer_leader(2), Status::kOk);
  c.stabilize();
  ASSERT_EQ(c.leader(), 2u);
  c.reconnect(3);
  c.tick_all(kManyTicks);
  ASSERT_EQ(c.core(3).lost(), 0u);
  ASSERT_EQ(c.core(2).repairs(), 1u);
  const std::size_t changes = conf_changes(c, 2).size();
  ConfState all;
  for (const NodeId id : {1u, 2u, 3u}) all.voters.insert(id);
  ASSERT_EQ(c.core(2).conf_state(), all);

  // Node 1 leads again, before it hears from node 3.
  c.isolate(3);
  ASSERT_EQ(c.core(2).transfer_leader(1), Status::kOk);
  c.stabilize();
  ASSERT_EQ(c.leader(), 1u);
  c.tick_all(kManyTicks);
  EXPECT_EQ(conf_changes(c, 1).size(), changes) << "a second repair started";
  EXPECT_EQ(c.core(1).conf_state(), all);
  EXPECT_EQ(c.core(1).repairs(), 0u);
}

// A damaged newest hard-state slot: the host falls back to the older slot — an older term and vote, the log
// kept — and stores a lost mark (node/storage/state_detection.h). The node then votes on nothing, even in
// the term it voted in since, until the leader repaired it; repaired, it votes again.
TEST(LostState, ARolledBackHardStateVotesOnNothingUntilRepaired) {
  Cluster c(3);
  c.elect(1);
  propose_some(c, 1, 3);
  const HardState older = c.storage(3).hard_state();
  c.isolate(1);
  c.tick_all(kManyTicks);  // node 3 votes in a later term: node 2 or 3 leads
  c.reconnect(1);
  ASSERT_NE(c.leader(), kNoNode);
  propose_some(c, c.leader(), 3);
  const HardState newest = c.storage(3).hard_state();
  ASSERT_GT(newest.term, older.term);

  constexpr std::uint64_t kMark = 99;
  c.storage(3).set_hard_state({older.term, older.vote, older.commit, kMark});
  c.restart(3);
  EXPECT_EQ(c.core(3).lost(), kMark);
  for (const Term term : {newest.term, newest.term + 1}) {
    c.core(3).step(VoteRequest{1, 3, term, c.core(3).log().last_index() + 10, term, false, false});
    c.handle_ready(3);
    EXPECT_FALSE(granted_a_vote(c, 3)) << "term " << term;
    c.network().clear();
  }

  c.tick_all(kManyTicks);
  const NodeId repairer = c.leader();
  ASSERT_NE(repairer, kNoNode);
  ASSERT_NE(repairer, 3u);
  EXPECT_EQ(c.core(3).lost(), 0u);
  EXPECT_EQ(c.core(repairer).repairs(), 1u);
  EXPECT_EQ(c.log_terms(3), c.log_terms(repairer));
  c.isolate(repairer);  // repaired, node 3's vote elects the next leader
  c.tick_all(kManyTicks);
  EXPECT_NE(c.leader(), kNoNode);
}

// §4.1: the removal needs a majority of the remaining voters {1, 2}; with node 2 down it does not commit,
// and the cluster blocks rather than elect anyone with the lost node's vote.
TEST(LostState, Section4_1_ALostNodeWithAnotherDownBlocksRatherThanElects) {
  Cluster c(3);
  c.elect(1);
  propose_some(c, 1, 5);
  const Index commit = c.core(1).commit_index();
  c.isolate(2);
  c.restart_lost(3);
  c.tick_all(kManyTicks / 10);  // no CheckQuorum step-down yet: the lost node answers the leader

  ASSERT_EQ(conf_changes(c, 1).size(), 1u);
  EXPECT_EQ(conf_changes(c, 1)[0].type, ConfChangeType::kRemoveNode);
  EXPECT_EQ(c.core(1).commit_index(), commit) << "the removal committed without a majority of {1, 2}";
  EXPECT_NE(c.core(3).lost(), 0u);

  // The leader goes, node 2 comes back: 2 and 3 could elect only with the lost node's vote.
  c.isolate(1);
  c.reconnect(2);
  c.tick_all(kManyTicks);
  EXPECT_EQ(c.leader(), kNoNode);
  EXPECT_NE(c.core(3).lost(), 0u);
}

// The bug the rule prevents, shown deterministically: node 3 voted for 1 in term 1, lost that record, and
// without the rule votes for 2 in the same term — two leaders in one term.
TEST(LostState, Section3_6_WithoutTheRuleTwoLeadersInOneTerm) {
  for (const bool rule : {true, false}) {
    Cluster c(3, [rule](Config& cfg) {
      cfg.testing_faults.ignore_lost_state = !rule;
      cfg.pre_vote = false;
    });
    c.isolate(2);
    c.elect(1);  // term 1, with node 3's vote
    ASSERT_EQ(c.core(1).role(), Role::kLeader);
    c.isolate(1);
    c.reconnect(2);
    c.restart_lost(3);  // term 0, no vote
    c.elect(2);         // term 1 again
    const bool two_leaders = c.core(2).role() == Role::kLeader && c.core(2).term() == c.core(1).term();
    EXPECT_EQ(two_leaders, !rule) << (rule ? "with" : "without") << " the rule";
  }
}

// Runs the cluster until leader `leader` has heard one of `lost` say it is lost while it repairs the
// other (one repair at a time, §4.1) and returns that one; kNoNode if it never happens.
NodeId lost_while_another_is_repaired(Cluster& c, NodeId leader, std::initializer_list<NodeId> lost) {
  for (int t = 0; t < kManyTicks; ++t) {
    c.tick(leader);
    do {
      const ConfState& conf = c.core(leader).conf_state();
      for (const NodeId id : lost)
        if (conf.is_member(id) && conf.repairing != id && c.core(leader).progress(id).lost != 0) return id;
    } while (c.handle_all_ready() | c.deliver_one());
  }
  return kNoNode;
}

// §3.10 (leadership transfer): the target must be able to campaign, and a lost voter may not (§3.6), so
// TimeoutNow would be ignored while the leader refuses proposals for an election timeout. The core
// refuses the transfer with a reason the admin path shows; once repaired, the transfer goes through.
TEST(LostState, Section3_10_TransferToALostVoterIsRefused) {
  Cluster c(5);
  c.elect(1);
  propose_some(c, 1, 3);
  c.restart_lost(4);
  c.restart_lost(5);
  const NodeId waiting = lost_while_another_is_repaired(c, 1, {4, 5});
  ASSERT_NE(waiting, kNoNode);
  ASSERT_TRUE(c.core(1).voters().contains(waiting));
  EXPECT_EQ(c.core(1).transfer_leader(waiting), Status::kNodeLost);
  EXPECT_STREQ(to_string(Status::kNodeLost), "node lost its state and is not repaired yet");
  EXPECT_EQ(c.core(1).transfer_target(), kNoNode);

  c.tick_all(kManyTicks);
  ASSERT_EQ(c.core(waiting).lost(), 0u);
  ASSERT_EQ(c.core(1).repairs(), 2u);
  ASSERT_EQ(c.core(1).transfer_leader(waiting), Status::kOk);
  c.stabilize();
  EXPECT_EQ(c.leader(), waiting);
}

// §3.10: a transfer under way is given up as soon as its target says it is lost — the target would
// ignore TimeoutNow — so the leader takes proposals again and the repair starts at once, not an election
// timeout later.
TEST(LostState, Section3_10_ATransferIsGivenUpWhenTheTargetSaysItIsLost) {
  Cluster c(3);
  c.elect(1);
  c.isolate(3);
  propose_some(c, 1, 5);  // node 3 lags: the transfer must catch it up first
  ASSERT_EQ(c.core(1).transfer_leader(3), Status::kOk);
  c.restart_lost(3);
  c.reconnect(3);
  c.tick(1);  // a heartbeat: node 3 answers that it is lost
  c.stabilize();
  EXPECT_EQ(c.core(1).transfer_target(), kNoNode);
  EXPECT_EQ(c.leader(), 1u);
  ASSERT_FALSE(conf_changes(c, 1).empty());
  EXPECT_EQ(conf_changes(c, 1)[0].type, ConfChangeType::kRemoveNode) << "the repair started";
  EXPECT_EQ(c.propose(1, "accepted").status, Status::kOk);
}

// §4.2.1 with §3.6: a learner answers vote requests (a candidate whose log promotes it counts its ballot,
// §4.1), so a lost learner must not vote either until repaired. The leader marks it where it is (a
// learner re-added with a repair mark that says it returns as one), and once it left lost mode re-adds it
// unmarked: a learner again, never promoted by the repair.
TEST(LostState, Section4_2_1_ALostLearnerIsRepairedAndStaysALearner) {
  Cluster c(4, [](Config& cfg) { cfg.voters = {1, 2, 3}; });
  c.elect(1);
  ASSERT_EQ(c.core(1).propose_conf_change({ConfChangeType::kAddLearner, 4}).status, Status::kOk);
  propose_some(c, 1, 5);
  c.restart_lost(4);
  const std::uint64_t lost = c.core(4).lost();
  ASSERT_NE(lost, 0u);
  c.core(4).step(VoteRequest{2, 4, c.core(1).term(), 100, 100, false, false});  // a term it may have voted in
  c.handle_ready(4);
  EXPECT_FALSE(granted_a_vote(c, 4)) << "a lost learner voted";
  c.network().clear();
  c.tick_all(kManyTicks);

  ConfState learner;
  for (const NodeId id : {1u, 2u, 3u}) learner.voters.insert(id);
  learner.learners.insert(4);
  expect_repaired(c, 1, 4,
                  {{ConfChangeType::kAddLearner, 4, 0},  // the operator's
                   {ConfChangeType::kAddLearner, 4, lost | kRepairAsLearner},
                   {ConfChangeType::kAddLearner, 4, 0}},
                  learner);
}

// §4.2.1: a learner is promoted once it can vote; a lost one cannot, so its promotion is refused (kNodeLost)
// until its repair is done — here while the leader repairs another lost learner first.
TEST(LostState, Section4_2_1_ALostLearnerIsNotPromoted) {
  Cluster c(5, [](Config& cfg) { cfg.voters = {1, 2, 3}; });
  c.elect(1);
  for (const NodeId id : {4u, 5u}) {
    ASSERT_EQ(c.core(1).propose_conf_change({ConfChangeType::kAddLearner, id}).status, Status::kOk);
    c.stabilize();
  }
  propose_some(c, 1, 3);
  c.restart_lost(4);
  c.restart_lost(5);
  const NodeId waiting = lost_while_another_is_repaired(c, 1, {4, 5});
  ASSERT_NE(waiting, kNoNode);
  // Whenever no other change is pending, the promotion is refused for what it is.
  Status promoted = Status::kConfChangePending;
  for (int round = 0; round < 10000 && promoted == Status::kConfChangePending; ++round) {
    promoted = c.core(1).propose_conf_change({ConfChangeType::kPromoteLearner, waiting}).status;
    if (!(c.handle_all_ready() | c.deliver_one())) c.tick(1);
  }
  EXPECT_EQ(promoted, Status::kNodeLost);

  c.tick_all(kManyTicks);
  EXPECT_EQ(c.core(1).repairs(), 2u);
  for (const NodeId id : {4u, 5u}) {
    EXPECT_EQ(c.core(id).lost(), 0u) << "node " << id;
    EXPECT_TRUE(c.core(1).conf_state().learners.contains(id)) << "node " << id;
  }
  EXPECT_EQ(c.core(1).propose_conf_change({ConfChangeType::kPromoteLearner, waiting}).status, Status::kOk);
}

TEST(LostState, RepairMarkRoundTripsAndOldChangesStillDecode) {
  const ConfChange repair{ConfChangeType::kRemoveNode, 3, 0x0102030405060708ull};
  const DecodedConfChange decoded = decode_conf_change(encode_conf_change(repair));
  ASSERT_TRUE(decoded) << decoded.error;
  EXPECT_EQ(decoded.change, repair);
  EXPECT_EQ(apply_conf_change(ConfState{}, {ConfChangeType::kAddLearner, 3, 7}).repairing, 3u);

  // A version-1 payload (logs written before the repair mark): 6 bytes, no mark.
  auto bytes = encode_conf_change({ConfChangeType::kAddLearner, 4});
  bytes[0] = std::byte{1};
  const DecodedConfChange v1 = decode_conf_change(Bytes(bytes).first(kConfChangeV1Bytes));
  ASSERT_TRUE(v1) << v1.error;
  EXPECT_EQ(v1.change, (ConfChange{ConfChangeType::kAddLearner, 4}));

  auto promote = encode_conf_change({ConfChangeType::kPromoteLearner, 4});
  promote[6] = std::byte{1};
  EXPECT_NE(decode_conf_change(promote).error.find("repair mark"), std::string::npos);
}

// An operator's change never carries the leader's repair mark.
TEST(LostState, OperatorChangesCarryNoRepairMark) {
  Cluster c(3);
  c.elect(1);
  EXPECT_EQ(c.core(1).propose_conf_change({ConfChangeType::kRemoveNode, 3, 5}).status,
            Status::kInvalidArgument);
}

}  // namespace
}  // namespace shmraft::raft
