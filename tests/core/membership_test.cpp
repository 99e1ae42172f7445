// Membership changes, one server at a time (dissertation chapter 4), one test per rule; each names its
// section as etcd's paper tests do. Nodes 1..3 are the bootstrap voters; higher ids join later (they are
// started with the same bootstrap configuration, which does not contain them).
#include <gtest/gtest.h>

#include "tests/core/test_cluster.h"

namespace shmraft::raft {
namespace {

using testing::as_bytes;
using testing::Cluster;

constexpr int kManyTicks = 100;  // several election timeouts

Cluster three_voters(std::uint32_t nodes) {
  return Cluster(nodes, [](Config& cfg) { cfg.voters = {1, 2, 3}; });
}

ConfState conf(std::vector<NodeId> voters, std::vector<NodeId> learners = {}) {
  ConfState c;
  for (const NodeId id : voters) c.voters.insert(id);
  for (const NodeId id : learners) c.learners.insert(id);
  return c;
}

ProposeResult change(Cluster& c, NodeId leader, ConfChangeType type, NodeId node) {
  return c.core(leader).propose_conf_change({type, node});
}

// Proposes a change that must be accepted and lets the cluster settle.
void change_and_settle(Cluster& c, NodeId leader, ConfChangeType type, NodeId node) {
  ASSERT_EQ(change(c, leader, type, node).status, Status::kOk) << to_string(type) << " " << node;
  c.stabilize();
}

// ---------------------------------------------------------------------------- the change type ----

TEST(ConfChangeEncoding, RoundTripsEveryType) {
  for (const ConfChangeType type : {ConfChangeType::kAddVoter, ConfChangeType::kAddLearner,
                                    ConfChangeType::kPromoteLearner, ConfChangeType::kRemoveNode}) {
    const ConfChange cc{type, 42};
    const auto bytes = encode_conf_change(cc);
    const DecodedConfChange decoded = decode_conf_change(bytes);
    ASSERT_TRUE(decoded) << decoded.error;
    EXPECT_EQ(decoded.change, cc);
  }
}

TEST(ConfChangeEncoding, RefusesBadPayloadsNamingWhatIsWrong) {
  auto bytes = encode_conf_change({ConfChangeType::kAddLearner, 4});
  EXPECT_NE(decode_conf_change(Bytes(bytes).first(5)).error.find("5 bytes"), std::string::npos);
  auto bad_version = bytes;
  bad_version[0] = std::byte{9};
  EXPECT_NE(decode_conf_change(bad_version).error.find("version 9"), std::string::npos);
  auto bad_type = bytes;
  bad_type[1] = std::byte{0};
  EXPECT_NE(decode_conf_change(bad_type).error.find("type 0"), std::string::npos);
  const auto no_node = encode_conf_change({ConfChangeType::kAddLearner, kNoNode});
  EXPECT_NE(decode_conf_change(no_node).error.find("node 0"), std::string::npos);
  const auto too_big = encode_conf_change({ConfChangeType::kAddLearner, kMaxNodeId + 1});
  EXPECT_FALSE(decode_conf_change(too_big));
}

// --------------------------------------------------------------------------------- the rules ----

// §4.1: a server uses the latest configuration in its log as soon as the entry is appended, committed
// or not.
TEST(Membership, Section4_1_ConfigurationTakesEffectWhenAppended) {
  Cluster c = three_voters(4);
  c.elect(1);
  c.isolate(3);
  c.drop_if = [](const Message& m) { return std::holds_alternative<AppendResponse>(m); };  // nothing commits
  ASSERT_EQ(change(c, 1, ConfChangeType::kAddLearner, 4).status, Status::kOk);
  EXPECT_EQ(c.core(1).conf_state(), conf({1, 2, 3}, {4}));  // the leader: at once
  c.stabilize();
  EXPECT_LT(c.core(2).commit_index(), c.core(2).log().last_index());
  EXPECT_EQ(c.core(2).conf_state(), conf({1, 2, 3}, {4}));  // a follower: once in its log, uncommitted
  EXPECT_EQ(c.core(3).conf_state(), conf({1, 2, 3}));       // not there yet
}

// §4.1: an uncommitted change that a new leader truncates is undone with its entry.
TEST(Membership, Section4_1_TruncatedChangeIsUndone) {
  Cluster c = three_voters(4);
  c.elect(1);
  c.isolate(1);
  ASSERT_EQ(change(c, 1, ConfChangeType::kAddLearner, 4).status, Status::kOk);
  c.handle_ready(1);
  EXPECT_EQ(c.core(1).conf_state(), conf({1, 2, 3}, {4}));
  c.tick_all(kManyTicks);  // 2 and 3 elect one of them
  const NodeId leader = c.leader();
  ASSERT_TRUE(leader == 2 || leader == 3) << leader;
  c.propose(leader, "x");
  c.stabilize();
  c.heal();
  c.tick_all(kManyTicks);  // node 1 steps down (CheckQuorum) and follows node 2, which overwrites its entry
  EXPECT_EQ(c.log_terms(1), c.log_terms(leader)) << "node 1 did not catch up";
  EXPECT_EQ(c.core(1).conf_state(), conf({1, 2, 3}));
}

// §4.1 and its fix (Ongaro, raft-dev 2015, "bug in single-server membership changes"): a new leader may
// not change the configuration before it has committed an entry of its own term.
TEST(Membership, Section4_1_NewLeaderCommitsItsTermBeforeAChange) {
  Cluster c = three_voters(4);
  c.core(1).campaign();
  while (c.core(1).role() != Role::kLeader) {
    c.handle_all_ready();
    ASSERT_TRUE(c.deliver_one());
  }
  EXPECT_EQ(change(c, 1, ConfChangeType::kAddLearner, 4).status, Status::kConfChangePending);
  c.stabilize();  // the no-op of its term commits
  EXPECT_EQ(change(c, 1, ConfChangeType::kAddLearner, 4).status, Status::kOk);
}

// §4.1: one change at a time — a second is refused until the first is applied.
TEST(Membership, Section4_1_OneChangeAtATime) {
  Cluster c = three_voters(5);
  c.elect(1);
  ASSERT_EQ(change(c, 1, ConfChangeType::kAddLearner, 4).status, Status::kOk);
  EXPECT_EQ(change(c, 1, ConfChangeType::kAddLearner, 5).status, Status::kConfChangePending);
  c.stabilize();
  EXPECT_EQ(change(c, 1, ConfChangeType::kAddLearner, 5).status, Status::kOk);
  c.stabilize();
  for (NodeId id = 1; id <= 5; ++id) EXPECT_EQ(c.core(id).conf_state(), conf({1, 2, 3}, {4, 5})) << id;
}

// §4.1: changes that make no sense are refused with a result that says why.
TEST(Membership, Section4_1_InvalidChangesAreRefused) {
  Cluster c = three_voters(4);
  c.elect(1);
  EXPECT_EQ(change(c, 2, ConfChangeType::kAddLearner, 4).status, Status::kNotLeader);
  EXPECT_EQ(change(c, 1, ConfChangeType::kAddVoter, 2).status, Status::kAlreadyMember);
  EXPECT_EQ(change(c, 1, ConfChangeType::kAddLearner, 3).status, Status::kAlreadyMember);
  EXPECT_EQ(change(c, 1, ConfChangeType::kRemoveNode, 4).status, Status::kNotMember);
  EXPECT_EQ(change(c, 1, ConfChangeType::kPromoteLearner, 2).status, Status::kNotLearner);
  EXPECT_EQ(change(c, 1, ConfChangeType::kAddLearner, 0).status, Status::kInvalidArgument);
  EXPECT_EQ(change(c, 1, ConfChangeType::kAddLearner, 8).status, Status::kInvalidArgument);  // > max_nodes
  EXPECT_EQ(c.core(1).log().last_index(), 1u) << "a refused change appended something";
}

TEST(Membership, Section4_1_TheLastVoterCannotBeRemoved) {
  Cluster c(1);
  c.elect(1);
  EXPECT_EQ(change(c, 1, ConfChangeType::kRemoveNode, 1).status, Status::kRemovesLastVoter);
}

// §4.2.1: a learner receives the log but does not count toward commitment.
TEST(Membership, Section4_2_1_LearnerGetsTheLogButDoesNotCountForCommit) {
  Cluster c = three_voters(4);
  c.elect(1);
  change_and_settle(c, 1, ConfChangeType::kAddLearner, 4);
  c.propose(1, "a");
  c.stabilize();
  EXPECT_EQ(c.log_terms(4), c.log_terms(1));
  EXPECT_EQ(c.core(4).commit_index(), c.core(1).commit_index());
  ASSERT_EQ(c.applied(4).back().data, "a");

  c.isolate(2);
  c.isolate(3);
  const ProposeResult p = c.propose(1, "b");
  c.stabilize();
  EXPECT_EQ(c.core(4).log().last_index(), p.index);  // the learner holds it ...
  EXPECT_LT(c.core(1).commit_index(), p.index);      // ... but the leader and a learner are no majority
}

// §4.2.1: a learner never campaigns; its vote counts for nothing with a candidate that holds it a learner.
TEST(Membership, Section4_2_1_LearnerNeverCampaignsAndItsVoteDoesNotCount) {
  Cluster c = three_voters(4);
  c.elect(1);
  change_and_settle(c, 1, ConfChangeType::kAddLearner, 4);
  const Term t = c.core(4).term();
  c.isolate(1);
  c.isolate(2);
  c.isolate(3);
  c.core(4).campaign();
  c.tick_all(kManyTicks);
  EXPECT_EQ(c.core(4).role(), Role::kFollower);
  EXPECT_EQ(c.core(4).term(), t);

  // Node 2 cut off from the other voters but not from the learner: no candidate asks a node it holds a
  // learner, and the learner's presence makes no majority.
  c.heal();
  c.tick_all(3);
  c.isolate(1);
  c.isolate(3);
  int asked_learner = 0;
  c.drop_if = [&](const Message& m) {
    if (const auto* v = std::get_if<VoteRequest>(&m)) asked_learner += v->to == 4;
    return false;
  };
  c.tick_all(kManyTicks);
  EXPECT_EQ(asked_learner, 0);
  EXPECT_NE(c.core(2).role(), Role::kLeader);
}

// §4.2.1: a learner is promoted only once it has caught up; then it counts like any voter.
TEST(Membership, Section4_2_1_PromotionWaitsForTheLearnerToCatchUp) {
  Cluster c = three_voters(4);
  c.elect(1);
  change_and_settle(c, 1, ConfChangeType::kAddLearner, 4);
  c.isolate(4);
  for (int k = 0; k < 5; ++k) c.propose(1, "x");
  c.stabilize();
  EXPECT_EQ(change(c, 1, ConfChangeType::kPromoteLearner, 4).status, Status::kLearnerBehind);
  c.heal();
  c.tick_all(3);  // heartbeats find the learner behind and catch it up
  change_and_settle(c, 1, ConfChangeType::kPromoteLearner, 4);
  for (NodeId id = 1; id <= 4; ++id) EXPECT_EQ(c.core(id).conf_state(), conf({1, 2, 3, 4})) << id;

  // Four voters: a quorum is three, so the leader and one follower no longer commit.
  c.isolate(3);
  c.isolate(4);
  const ProposeResult p = c.propose(1, "y");
  c.stabilize();
  EXPECT_LT(c.core(1).commit_index(), p.index);
  c.reconnect(4);
  c.tick_all(3);
  EXPECT_GE(c.core(1).commit_index(), p.index);
}

// §4.1: a node added as a voter straight away takes part in elections; a removed one stops counting.
TEST(Membership, Section4_1_AddAndRemoveVotersChangeTheQuorum) {
  Cluster c = three_voters(4);
  c.elect(1);
  change_and_settle(c, 1, ConfChangeType::kAddVoter, 4);
  change_and_settle(c, 1, ConfChangeType::kRemoveNode, 2);
  change_and_settle(c, 1, ConfChangeType::kRemoveNode, 3);
  for (NodeId id : {1u, 4u}) EXPECT_EQ(c.core(id).conf_state(), conf({1, 4})) << id;
  // Voters {1, 4}: node 4 can be elected by node 1 alone; the removed nodes play no part.
  c.isolate(2);
  c.isolate(3);
  ASSERT_EQ(c.core(1).transfer_leader(4), Status::kOk);
  c.stabilize();
  EXPECT_EQ(c.core(4).role(), Role::kLeader);
  const ProposeResult p = c.propose(4, "after");
  c.stabilize();
  EXPECT_GE(c.core(4).commit_index(), p.index);
}

// §4.2.2: a leader that removes itself keeps leading — without counting itself — until the removal
// commits, then hands over to the most up-to-date voter and steps down.
TEST(Membership, Section4_2_2_LeaderRemovingItselfHandsOverOnceCommitted) {
  Cluster c = three_voters(3);
  c.elect(1);
  c.isolate(3);
  c.drop_if = [](const Message& m) { return std::holds_alternative<AppendResponse>(m); };
  change_and_settle(c, 1, ConfChangeType::kRemoveNode, 1);
  EXPECT_EQ(c.core(1).role(), Role::kLeader);  // uncommitted: still leading
  c.drop_if = {};
  c.tick_all(3);
  // Voters {2, 3}: node 2's acknowledgement alone is no majority of them, the leader's own does not count.
  EXPECT_LT(c.core(1).commit_index(), c.core(1).log().last_index());
  EXPECT_EQ(c.core(1).role(), Role::kLeader);
  c.heal();
  c.tick_all(5);
  const NodeId leader = c.leader();
  EXPECT_TRUE(leader == 2 || leader == 3) << "leader " << leader;
  EXPECT_EQ(c.core(1).role(), Role::kFollower);
  EXPECT_EQ(c.core(leader).conf_state(), conf({2, 3}));
  // It went by a transfer (TimeoutNow), not a timeout: the new leader's term is just one higher.
  EXPECT_EQ(c.core(leader).term(), 2u);
}

// §4.2.2: if the hand-over does not happen (its TimeoutNow is lost), the removed leader still steps down
// within an election timeout, and the remaining voters elect one of them.
TEST(Membership, Section4_2_2_RemovedLeaderStepsDownEvenIfTheHandOverFails) {
  Cluster c = three_voters(3);
  c.elect(1);
  c.drop_if = [](const Message& m) { return std::holds_alternative<TimeoutNow>(m); };
  change_and_settle(c, 1, ConfChangeType::kRemoveNode, 1);
  EXPECT_EQ(c.core(1).role(), Role::kLeader);
  EXPECT_NE(c.core(1).transfer_target(), kNoNode);  // handing over
  c.tick_all(kManyTicks);
  EXPECT_EQ(c.core(1).role(), Role::kFollower);
  const NodeId leader = c.leader();
  EXPECT_TRUE(leader == 2 || leader == 3) << "leader " << leader;
}

// §4.2.3: a removed server never campaigns, so it cannot disrupt the cluster that removed it.
TEST(Membership, Section4_2_3_RemovedNodeStopsCampaigning) {
  Cluster c = three_voters(3);
  c.elect(1);
  change_and_settle(c, 1, ConfChangeType::kRemoveNode, 3);
  c.tick_all(3);  // heartbeats tell node 3 that its removal committed
  EXPECT_EQ(c.core(3).conf_state(), conf({1, 2}));
  EXPECT_GE(c.core(3).commit_index(), c.core(1).commit_index());
  const Term t = c.core(3).term();
  c.isolate(3);
  c.tick_all(kManyTicks);
  EXPECT_EQ(c.core(3).role(), Role::kFollower);
  EXPECT_EQ(c.core(3).term(), t);
  c.heal();
  c.tick_all(kManyTicks);
  EXPECT_EQ(c.core(1).role(), Role::kLeader);
  EXPECT_EQ(c.core(1).term(), t);
}

// §4.1 with §5.2: a restart rebuilds the configuration from the stored log (and a snapshot, next test).
TEST(Membership, Section4_1_RestartRestoresTheConfigurationFromTheLog) {
  Cluster c = three_voters(4);
  c.elect(1);
  change_and_settle(c, 1, ConfChangeType::kAddLearner, 4);
  change_and_settle(c, 1, ConfChangeType::kPromoteLearner, 4);
  change_and_settle(c, 1, ConfChangeType::kRemoveNode, 2);
  c.restart(3);
  EXPECT_EQ(c.core(3).conf_state(), conf({1, 3, 4}));
  c.restart(2);  // removed: it knows, and stays quiet
  EXPECT_EQ(c.core(2).conf_state(), conf({1, 3, 4}));
}

// §7 with §4.1: a snapshot carries the configuration it covers; a node restarted over it, and one that
// joins through it, end up with the configuration in force.
TEST(Membership, Section4_1_SnapshotCarriesTheConfiguration) {
  Cluster c = three_voters(5);
  c.elect(1);
  change_and_settle(c, 1, ConfChangeType::kAddVoter, 4);
  const Index snap = c.core(1).applied_index();
  c.storage(1).create_snapshot(snap, as_bytes("state"), c.core(1).conf_state_at(snap));
  c.storage(1).compact(snap);
  ASSERT_EQ(change(c, 1, ConfChangeType::kAddLearner, 5).status, Status::kOk);  // node 5 needs the snapshot
  int snapshots = 0;
  c.drop_if = [&](const Message& m) {
    if (const auto* s = std::get_if<InstallSnapshot>(&m)) {
      ++snapshots;
      EXPECT_EQ(s->meta.conf_state, conf({1, 2, 3, 4}));
    }
    return false;
  };
  c.stabilize();
  c.tick_all(3);
  EXPECT_GE(snapshots, 1);
  EXPECT_EQ(c.core(5).conf_state(), conf({1, 2, 3, 4}, {5}));
  EXPECT_EQ(c.log_terms(5), c.log_terms(1));
  c.restart(1);
  EXPECT_EQ(c.core(1).conf_state(), conf({1, 2, 3, 4}, {5}));
  c.restart(5);
  EXPECT_EQ(c.core(5).conf_state(), conf({1, 2, 3, 4}, {5}));
}

// A configuration-change entry is still handed to every application, in order, with its type.
TEST(Membership, ChangeEntriesAreHandedOutWithTheirType) {
  Cluster c = three_voters(4);
  c.elect(1);
  const ProposeResult p = change(c, 1, ConfChangeType::kAddLearner, 4);
  ASSERT_EQ(p.status, Status::kOk);
  c.stabilize();
  for (NodeId id = 1; id <= 4; ++id) {
    ASSERT_FALSE(c.applied(id).empty()) << id;
    EXPECT_EQ(c.applied(id).back().index, p.index);
    EXPECT_EQ(c.applied(id).back().type, EntryType::kConfChange);
  }
}

}  // namespace
}  // namespace shmraft::raft
