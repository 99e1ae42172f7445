// Proof that the simulator can fail: with a known bug switched on, it must report a broken invariant
// within a bounded number of seeds, and the same seed must pass without the bug (so the schedule was
// legal and it is the bug that was caught).
#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <iostream>
#include <string>

#include "tests/sim/sim_sweep.h"

namespace shmraft::sim {
namespace {

// Seeds the simulator may take to catch a bug. The measured first catches are far lower (see
// /work/notes/sim.md); the bound only has to be finite and keep this test to a few seconds.
constexpr uint64_t kSeedBound = 200;

void expect_caught(const char* buggy_profile, const char* correct_profile,
                   std::initializer_list<Invariant> expected) {
  const SweepResult sweep = run_sweep(sim_profile(buggy_profile), 1, kSeedBound);
  ASSERT_TRUE(sweep.first_failure) << "the simulator ran " << sweep.seeds_run << " seeds of " << buggy_profile
                                   << " without noticing the bug";
  const SimResult& failure = *sweep.first_failure;
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::cout << "caught on seed " << failure.seed << " (" << sweep.seeds_run
            << " seeds run): " << describe(sweep, std::string(test->test_suite_name()) + "." + test->name())
            << "\n";
  EXPECT_NE(std::find(expected.begin(), expected.end(), failure.violation->invariant), expected.end())
      << "caught, but as an unexpected kind of failure: " << invariant_name(failure.violation->invariant);

  const SimResult control = ClusterSim(sim_profile(correct_profile), failure.seed).run();
  EXPECT_TRUE(control.ok()) << "seed " << failure.seed << " of " << correct_profile
                            << " fails even without the bug: " << invariant_name(control.violation->invariant)
                            << ": " << control.violation->detail;
}

// Figure 8 of the Raft paper: a leader that commits an entry of an earlier term by counting replicas
// lets a later leader, elected without that entry, overwrite it.
TEST(SimCatchesBugs, CommittingAnOlderTermByCounting) {
  expect_caught("figure8-bug", "churn3", {Invariant::kLeaderCompleteness, Invariant::kStateMachineSafety});
}

// §5.4.1: a vote for a candidate whose log is behind elects leaders without committed entries.
TEST(SimCatchesBugs, VotingWithoutTheUpToDateCheck) {
  expect_caught("blind-vote-bug", "churn3", {Invariant::kLeaderCompleteness, Invariant::kStateMachineSafety});
}

// A node that sends its vote or append acknowledgement before its persist is durable forgets the promise
// when it crashes; only a storage model that keeps exactly what was persisted can show it.
TEST(SimCatchesBugs, AcknowledgingBeforePersisting) {
  expect_caught("early-ack-bug", "crashy",
                {Invariant::kElectionSafety, Invariant::kLeaderCompleteness, Invariant::kStateMachineSafety,
                 Invariant::kAcknowledgedWriteLost, Invariant::kLiveness});
}

// A leader that answers reads from its own commit index, without confirming it still leads, serves stale
// data once deposed.
TEST(SimCatchesBugs, ReadingWithoutReadIndex) {
  expect_caught("local-read-bug", "churn", {Invariant::kStaleRead});
}

// A node that lost its state (wiped, or missing a log suffix) and votes as if it had not can vote twice
// in one term, or vouch for entries it no longer holds.
TEST(SimCatchesBugs, VotingAfterLosingState) {
  expect_caught("lost-vote-bug", "lost",
                {Invariant::kElectionSafety, Invariant::kLeaderCompleteness, Invariant::kStateMachineSafety,
                 Invariant::kAcknowledgedWriteLost});
}

// A node that lost only its hard state keeps its log, but not the record of its vote (§3.6: votedFor is
// persistent state). Started NOT lost, it may vote a second time in a term: two leaders in one term.
TEST(SimCatchesBugs, HardStateLossNotDetected) {
  expect_caught("hard-state-loss-undetected-bug", "losthardstate",
                {Invariant::kElectionSafety, Invariant::kLeaderCompleteness, Invariant::kStateMachineSafety,
                 Invariant::kAcknowledgedWriteLost});
}

// A node whose log ends below what it acknowledged, started NOT lost (no acknowledged-through watermark),
// no longer holds entries a leader counted towards commitment, and votes for a candidate without them:
// a leader without a committed entry (§5.4.1's election restriction relies on the voter's log).
TEST(SimCatchesBugs, SuffixLossNotDetected) {
  expect_caught(
      "suffix-loss-undetected-bug", "lostsuffix",
      {Invariant::kLeaderCompleteness, Invariant::kStateMachineSafety, Invariant::kAcknowledgedWriteLost});
}

}  // namespace
}  // namespace shmraft::sim
