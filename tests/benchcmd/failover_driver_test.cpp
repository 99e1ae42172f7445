// The fail-over driver's test of whether a leader's loss can be measured at all: a survivor elected in a
// later term before the signal means the victim no longer led when it was signalled (an election the
// benchmark did not cause), and the event is run again rather than measured or waited on for ever.
#include "launcher/bench/failover_driver.h"

#include <gtest/gtest.h>

#include "node/process/node_counters.h"

namespace shmraft::bench {
namespace {

constexpr uint64_t kSignalNs = 5'000'000;
constexpr uint64_t kVictimTerm = 18;

ipc::NodeCountersSnapshot survivor(uint64_t role, uint64_t term, uint64_t leader_since_ns) {
  ipc::NodeCountersSnapshot s{};
  s.role = role;
  s.term = term;
  s.leader_since_ns = leader_since_ns;
  return s;
}

TEST(FailoverDriver, ASurvivorElectedInALaterTermBeforeTheSignalVoidsTheEvent) {
  EXPECT_TRUE(elected_before_signal(survivor(node::kRoleLeader, 19, kSignalNs - 1), kVictimTerm, kSignalNs));
  EXPECT_TRUE(elected_before_signal(survivor(node::kRoleLeader, 19, kSignalNs), kVictimTerm, kSignalNs));
}

TEST(FailoverDriver, AnElectionTheSignalCausedOrAnOlderLeadershipDoesNot) {
  // elected after the signal: the fail-over being measured
  EXPECT_FALSE(elected_before_signal(survivor(node::kRoleLeader, 19, kSignalNs + 1), kVictimTerm, kSignalNs));
  // not a later term than the victim's (its stamp is an older leadership's)
  EXPECT_FALSE(elected_before_signal(survivor(node::kRoleLeader, 18, kSignalNs - 1), kVictimTerm, kSignalNs));
  // not leading now, or never led
  EXPECT_FALSE(
      elected_before_signal(survivor(node::kRoleFollower, 19, kSignalNs - 1), kVictimTerm, kSignalNs));
  EXPECT_FALSE(elected_before_signal(survivor(node::kRoleLeader, 19, 0), kVictimTerm, kSignalNs));
}

}  // namespace
}  // namespace shmraft::bench
