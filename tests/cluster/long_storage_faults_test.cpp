// The long sweep of `shmraft chaos --storage-faults` (label long): minutes of every kind the run judges,
// on 3 and 5 nodes, with kills, partitions and whole-cluster crashes around the damaged restarts.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "tests/cluster/chaos_harness.h"

namespace shmraft::cluster_test {
namespace {

void expect_damage_injected(const ChaosRun& run) {
  EXPECT_TRUE(run.passed());
  std::smatch injected;
  ASSERT_TRUE(std::regex_search(run.result.out, injected, std::regex("storage faults: (\\d+) injected")))
      << run.result.out;
  EXPECT_GE(std::stoul(injected[1]), 3u) << run.result.out;
}

TEST(LongStorageFaults, ThreeMinutesThreeNodesEveryJudgedKind) {
  expect_damage_injected(run_chaos(
      "long-storage3", {"--duration", "180", "--kill-interval", "400", "--partitions", "--partition-interval",
                        "3000", "--crash-all-interval", "20000", "--storage-faults", "--storage-fault-chance",
                        "0.5", "--", "--snapshot-bytes", "65536", "--segment-bytes", "16384"}));
}

TEST(LongStorageFaults, ThreeMinutesFiveNodesEveryJudgedKind) {
  expect_damage_injected(run_chaos(
      "long-storage5",
      {"--nodes", "5", "--duration", "180", "--kill-interval", "300", "--partitions", "--storage-faults",
       "--storage-fault-chance", "0.5", "--", "--snapshot-bytes", "65536", "--segment-bytes", "16384"}));
}

}  // namespace
}  // namespace shmraft::cluster_test
