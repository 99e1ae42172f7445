// A node that lost its durable state (Config::state_lost; core.h, "Lost state"): it never votes on what it
// forgot, and the leader repairs it through one-at-a-time membership changes (dissertation §4.1) — removed,
// added back as a learner (§4.2.1), promoted once caught up. The hazard is §3.6's one vote per term
// (Figure 2's votedFor is persistent state): a node that forgot its vote could vote twice in one term.
#include <gtest/gtest.h>

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

  const std::vector<ConfChange> expected = {{ConfChangeType::kRemoveNode, 3, lost},
                                            {ConfChangeType::kAddLearner, 3, lost},
                                            {ConfChangeType::kPromoteLearner, 3, 0}};
  EXPECT_EQ(conf_changes(c, 1), expected);
  EXPECT_EQ(c.core(1).repairs(), 1u);
  EXPECT_EQ(c.core(3).lost(), 0u);
  EXPECT_EQ(c.storage(3).hard_state().lost, 0u);
  ConfState all;
  for (const NodeId id : {1u, 2u, 3u}) all.voters.insert(id);
  for (const NodeId id : {1u, 2u, 3u}) EXPECT_EQ(c.core(id).conf_state(), all) << "node " << id;
  EXPECT_EQ(c.log_terms(3), c.log_terms(1));

  // Repaired, it votes again: with node 1 gone, 2 and 3 elect a leader.
  c.isolate(1);
  c.tick_all(kManyTicks);
  EXPECT_NE(c.leader(), kNoNode);
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
