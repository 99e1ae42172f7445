// The voter-set types every quorum decision goes through (majority_config.h, joint_config.h,
// progress_tracker.h), checked on their own: the committed index of a majority, election results, and a
// joint configuration needing both majorities (dissertation §4.3). Cases after etcd's quorum/testdata.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "node/raft/joint_config.h"
#include "node/raft/majority_config.h"
#include "node/raft/progress_tracker.h"

namespace shmraft::raft {
namespace {

Index committed(const JointConfig& config, const std::map<NodeId, Index>& acked) {
  std::vector<Index> scratch(config.scratch_size());
  return config.committed_index(
      [&](NodeId id) {
        const auto it = acked.find(id);
        return it == acked.end() ? Index{0} : it->second;
      },
      scratch);
}

VoteResult tally(const JointConfig& config, const std::map<NodeId, bool>& votes) {
  return config.vote_result([&](NodeId id) {
    const auto it = votes.find(id);
    if (it == votes.end()) return Ballot::kMissing;
    return it->second ? Ballot::kGranted : Ballot::kRejected;
  });
}

JointConfig single(std::vector<NodeId> voters) {
  return JointConfig(MajorityConfig(std::move(voters)));
}
JointConfig joint(std::vector<NodeId> incoming, std::vector<NodeId> outgoing) {
  return JointConfig(MajorityConfig(std::move(incoming)), MajorityConfig(std::move(outgoing)));
}

TEST(MajorityConfig, RejectsNodeZeroAndRepeatedVoters) {
  EXPECT_THROW(MajorityConfig({1, 0, 2}), std::invalid_argument);
  EXPECT_THROW(MajorityConfig({3, 1, 3}), std::invalid_argument);
  const MajorityConfig config({7, 2, 5});
  EXPECT_EQ(std::vector<NodeId>(config.voters().begin(), config.voters().end()),
            (std::vector<NodeId>{2, 5, 7}));
  EXPECT_TRUE(config.contains(5));
  EXPECT_FALSE(config.contains(1));
  EXPECT_EQ(config.quorum(), 2u);
}

// §5.3/§5.4.2: an index is committed once a majority stores it: the quorum-th highest acknowledgement.
TEST(MajorityConfig, CommittedIndexIsTheHighestAMajorityAcknowledged) {
  EXPECT_EQ(committed(single({1}), {{1, 12}}), 12u);
  EXPECT_EQ(committed(single({1, 2, 3}), {{1, 12}, {2, 5}, {3, 9}}), 9u);
  EXPECT_EQ(committed(single({1, 2, 3}), {{1, 12}}), 0u);  // one of three is no majority
  EXPECT_EQ(committed(single({1, 2, 3, 4}), {{1, 10}, {2, 10}, {3, 4}, {4, 4}}), 4u);  // 3 of 4 needed
  EXPECT_EQ(committed(single({1, 2, 3, 4, 5}), {{1, 9}, {2, 8}, {3, 7}, {4, 2}, {5, 1}}), 7u);
  // Ids need not be 1..N.
  EXPECT_EQ(committed(single({4, 9, 20}), {{4, 3}, {9, 6}, {20, 8}}), 6u);
}

// §5.2: a candidate wins with a majority of votes and has lost once a majority can no longer grant.
TEST(MajorityConfig, VoteResultIsWonLostOrPending) {
  const JointConfig three = single({1, 2, 3});
  EXPECT_EQ(tally(three, {}), VoteResult::kPending);
  EXPECT_EQ(tally(three, {{1, true}}), VoteResult::kPending);
  EXPECT_EQ(tally(three, {{1, true}, {2, true}}), VoteResult::kWon);
  EXPECT_EQ(tally(three, {{1, true}, {2, false}}), VoteResult::kPending);
  EXPECT_EQ(tally(three, {{1, true}, {2, false}, {3, false}}), VoteResult::kLost);
  // Four voters: two refusals already make three grants impossible.
  EXPECT_EQ(tally(single({1, 2, 3, 4}), {{1, true}, {2, false}, {3, false}}), VoteResult::kLost);
  EXPECT_EQ(tally(single({1}), {{1, true}}), VoteResult::kWon);
}

// An empty majority constrains nothing, so a joint config without an outgoing half is its incoming half.
TEST(MajorityConfig, EmptyConfigPlacesNoConstraint) {
  const MajorityConfig empty;
  std::vector<Index> scratch;
  EXPECT_EQ(empty.committed_index([](NodeId) { return Index{0}; }, scratch),
            std::numeric_limits<Index>::max());
  EXPECT_EQ(empty.vote_result([](NodeId) { return Ballot::kRejected; }), VoteResult::kWon);
  const JointConfig config = single({1, 2, 3});
  EXPECT_FALSE(config.joint());
  EXPECT_EQ(committed(config, {{1, 5}, {2, 5}}), 5u);
}

// §4.3: during joint consensus an entry commits only when stored by a majority of both configurations.
TEST(JointConfig, CommittedIndexNeedsBothMajorities) {
  const JointConfig config = joint({1, 2, 3}, {3, 4, 5});
  EXPECT_TRUE(config.joint());
  EXPECT_EQ(std::vector<NodeId>(config.voters().begin(), config.voters().end()),
            (std::vector<NodeId>{1, 2, 3, 4, 5}));
  // Incoming {1,2} hold 10 — but outgoing has only 3 at 10 of {3,4,5}.
  EXPECT_EQ(committed(config, {{1, 10}, {2, 10}, {3, 10}, {4, 2}, {5, 1}}), 2u);
  EXPECT_EQ(committed(config, {{1, 10}, {2, 10}, {3, 7}, {4, 7}, {5, 1}}), 7u);
  // A majority of all five (1, 2, 4) is not a majority of each half.
  EXPECT_EQ(committed(config, {{1, 9}, {2, 9}, {4, 9}}), 0u);
}

// §4.3: a candidate in a joint configuration needs the votes of both majorities.
TEST(JointConfig, ElectionNeedsBothMajorities) {
  const JointConfig config = joint({1, 2, 3}, {3, 4, 5});
  EXPECT_EQ(tally(config, {{1, true}, {2, true}}), VoteResult::kPending);  // incoming won, outgoing open
  EXPECT_EQ(tally(config, {{1, true}, {2, true}, {4, true}, {5, true}}), VoteResult::kWon);
  EXPECT_EQ(tally(config, {{1, true}, {2, true}, {4, false}, {5, false}}), VoteResult::kLost);
  EXPECT_EQ(tally(config, {{1, false}, {2, false}, {4, true}, {5, true}}), VoteResult::kLost);
}

ConfState conf(std::vector<NodeId> voters, std::vector<NodeId> learners = {}) {
  ConfState c;
  for (const NodeId id : voters) c.voters.insert(id);
  for (const NodeId id : learners) c.learners.insert(id);
  return c;
}

TEST(ProgressTracker, KeysProgressByMembersNotByARangeOfIds) {
  ProgressTracker tracker(conf({2, 5, 9}), 4);
  EXPECT_TRUE(tracker.is_member(5));
  EXPECT_FALSE(tracker.is_member(1));
  EXPECT_EQ(tracker.progress(3), nullptr);
  ASSERT_NE(tracker.progress(9), nullptr);
  EXPECT_EQ(tracker.progress(9)->inflights.capacity(), 4u);
  tracker.progress(2)->match = 8;
  tracker.progress(9)->match = 6;
  EXPECT_EQ(tracker.committed_index(), 6u);
  tracker.record_vote(2, true);
  EXPECT_EQ(tracker.tally_votes(), VoteResult::kPending);
  tracker.record_vote(5, true);
  EXPECT_EQ(tracker.tally_votes(), VoteResult::kWon);
  tracker.reset_votes();
  EXPECT_EQ(tracker.tally_votes(), VoteResult::kPending);
}

// §4.2.1: learners are members (they get a Progress) but no quorum question counts them.
TEST(ProgressTracker, LearnersNeverCount) {
  ProgressTracker tracker(conf({1, 2, 3}, {4, 5}), 4);
  ASSERT_NE(tracker.progress(4), nullptr);
  tracker.progress(1)->match = 9;
  tracker.progress(4)->match = 9;
  tracker.progress(5)->match = 9;
  EXPECT_EQ(tracker.committed_index(), 0u);  // only one voter holds 9
  tracker.progress(4)->heard_since_tick = true;
  tracker.progress(5)->heard_since_tick = true;
  tracker.tick(10);
  EXPECT_EQ(tracker.quorum_heard_tick(1), 0u);  // voters 2 and 3 were never heard; the learners were
  tracker.progress(4)->read_round_acked = 3;
  tracker.progress(5)->read_round_acked = 3;
  EXPECT_FALSE(tracker.round_confirmed(3, 1));
  tracker.record_vote(1, true);
  tracker.record_vote(4, true);
  tracker.record_vote(5, true);
  EXPECT_EQ(tracker.tally_votes(), VoteResult::kPending);
}

// A configuration change keeps what the leader knows of the members that stay.
// CheckQuorum's clock: an answer heard since the last tick counts as now, and is stamped at the end of
// the ticks handed over next (they passed before it was read); the quorum's tick is the majority's.
TEST(ProgressTracker, AnswersAreStampedAtTheEndOfTheNextTicks) {
  ProgressTracker tracker(conf({1, 2, 3}, {}), 4);
  tracker.tick(5);
  EXPECT_EQ(tracker.quorum_heard_tick(1), 0u);
  tracker.progress(2)->heard_since_tick = true;
  EXPECT_EQ(tracker.quorum_heard_tick(1), 5u);
  tracker.tick(30);
  EXPECT_EQ(tracker.progress(2)->heard_tick, 35u);
  tracker.tick(3);
  EXPECT_EQ(tracker.progress(2)->heard_tick, 35u);
  EXPECT_EQ(tracker.quorum_heard_tick(1), 35u);
  tracker.hear_all_now();
  EXPECT_EQ(tracker.progress(3)->heard_tick, 38u);
  tracker.set_config(conf({1, 2, 3, 4}, {}), 1);  // a new voter counts as heard when it joins
  EXPECT_EQ(tracker.progress(4)->heard_tick, 38u);
}

TEST(ProgressTracker, SetConfigKeepsTheProgressOfMembersThatStay) {
  ProgressTracker tracker(conf({1, 2, 3}), 4);
  tracker.progress(2)->match = 7;
  tracker.set_config(conf({1, 2}, {4}), 20);
  EXPECT_EQ(tracker.progress(3), nullptr);
  EXPECT_EQ(tracker.progress(2)->match, 7u);
  EXPECT_EQ(tracker.progress(4)->next, 20u);
  EXPECT_EQ(tracker.progress(4)->state, ProgressState::kProbe);
  EXPECT_EQ(tracker.progress(4)->inflights.capacity(), 4u);
  EXPECT_EQ(tracker.voters().voters().size(), 2u);
}

}  // namespace
}  // namespace shmraft::raft
