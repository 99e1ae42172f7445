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

}  // namespace
}  // namespace shmraft::cluster_test
