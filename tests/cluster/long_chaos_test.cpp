// Long chaos runs (label long, outside the default suite): minutes of every fault at once.
#include <gtest/gtest.h>

#include "tests/cluster/chaos_harness.h"

namespace shmraft::cluster_test {
namespace {

TEST(LongChaos, FiveMinutesFiveNodesEveryFault) {
  const ChaosRun run = run_chaos("long5", {"--nodes",
                                           "5",
                                           "--clients",
                                           "8",
                                           "--keys",
                                           "8",
                                           "--duration",
                                           "300",
                                           "--kill-interval",
                                           "800",
                                           "--partitions",
                                           "--partition-interval",
                                           "2500",
                                           "--crash-all-interval",
                                           "30000",
                                           "--unreliable",
                                           "0.05",
                                           "--max-delay",
                                           "1000",
                                           "--op-timeout",
                                           "1000"});
  EXPECT_TRUE(run.passed());
  EXPECT_GE(run.kills, 200u);
}

TEST(LongChaos, TenMinutesThreeNodesKillsAndPartitions) {
  const ChaosRun run = run_chaos("long3", {"--duration", "600", "--kill-interval", "1000", "--partitions",
                                           "--partition-interval", "2000", "--leader-bias", "0.7"});
  EXPECT_TRUE(run.passed());
  EXPECT_GE(run.kills, 400u);
}

// Issue 12: two minutes of membership changes (about one every 400 ms) among kills, partitions and lossy
// links, on up to seven node slots.
TEST(LongChaos, TwoMinutesOfMembershipChangesKillsAndPartitions) {
  const ChaosRun run = run_chaos("longmembers", {"--duration",
                                                 "120",
                                                 "--max-nodes",
                                                 "7",
                                                 "--kill-interval",
                                                 "700",
                                                 "--partitions",
                                                 "--partition-interval",
                                                 "2000",
                                                 "--membership",
                                                 "--membership-interval",
                                                 "400",
                                                 "--clients",
                                                 "6",
                                                 "--keys",
                                                 "8",
                                                 "--unreliable",
                                                 "0.02",
                                                 "--op-timeout",
                                                 "1000"});
  EXPECT_TRUE(run.passed());
  EXPECT_GE(run.kills, 80u);
  ASSERT_TRUE(run.membership) << run.result.out;
  EXPECT_GE(run.membership->adds, 10u);
  EXPECT_GE(run.membership->removes, 10u);
  EXPECT_GE(run.membership->replaces, 10u);
  EXPECT_GE(run.membership->transfers, 10u);
}

// Issues 12 and 14 together: two minutes of membership changes while killed members come back with
// damaged files, on up to seven node slots.
TEST(LongChaos, TwoMinutesOfMembershipChangesAndStorageFaults) {
  const ChaosRun run = run_chaos("longmembers-storage", {"--duration",
                                                         "120",
                                                         "--max-nodes",
                                                         "7",
                                                         "--kill-interval",
                                                         "500",
                                                         "--partitions",
                                                         "--partition-interval",
                                                         "3000",
                                                         "--membership",
                                                         "--membership-interval",
                                                         "500",
                                                         "--storage-faults",
                                                         "--storage-fault-chance",
                                                         "0.5",
                                                         "--clients",
                                                         "6",
                                                         "--keys",
                                                         "8",
                                                         "--op-timeout",
                                                         "1000",
                                                         "--",
                                                         "--snapshot-bytes",
                                                         "65536",
                                                         "--segment-bytes",
                                                         "16384"});
  EXPECT_TRUE(run.passed());
  ASSERT_TRUE(run.membership) << run.result.out;
  EXPECT_GE(run.membership->adds + run.membership->replaces, 5u);
  EXPECT_GE(run.membership->removes + run.membership->replaces, 5u);
  EXPECT_NE(run.result.out.find("storage faults: "), std::string::npos) << run.result.out;
}

}  // namespace
}  // namespace shmraft::cluster_test
