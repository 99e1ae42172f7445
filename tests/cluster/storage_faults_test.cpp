// `shmraft chaos --storage-faults` on real processes (issue 14 item 4): each kind the run injects damages
// a killed node's files; the node must start lost and be repaired into a voter within the bound, while
// the majority stays linearizable with every acknowledged write. Every kind is injected: a tail lost
// above the commit index (uncommitted-damage) is found below the watermark and judged like the others.
#include <gtest/gtest.h>

#include <cctype>
#include <regex>
#include <string>
#include <string_view>

#include "tests/cluster/chaos_harness.h"

namespace shmraft::cluster_test {
namespace {

using namespace std::chrono_literals;

// Chance 1: the first restart whose node holds something to damage gets the fault. Small snapshots and
// segments, so that there is a snapshot to corrupt and more than one segment to remove.
ChaosRun run_with_fault(const std::string& kind) {
  return run_chaos("storage-" + kind, {"--duration", "4", "--kill-interval", "300", "--storage-faults", kind,
                                       "--storage-fault-chance", "1", "--", "--snapshot-bytes", "8192",
                                       "--segment-bytes", "8192"});
}

// Every injection is a lost start that the run saw and a repair it timed: at least one, and as many
// repairs as injections.
void expect_every_damage_repaired(const ChaosRun& run) {
  EXPECT_TRUE(run.passed());
  std::smatch counts;
  ASSERT_TRUE(std::regex_search(
      run.result.out, counts, std::regex("storage faults: (\\d+) injected, (\\d+) repaired[^,]*, 0 failed")))
      << run.result.out;
  EXPECT_GE(std::stoul(counts[1]), 1u) << run.result.out;
  EXPECT_EQ(counts[1], counts[2]) << run.result.out;
  EXPECT_NE(run.result.out.find(" reports lost "), std::string::npos) << run.result.out;
  EXPECT_NE(run.result.out.find(" repaired: a voter again, no longer lost, "), std::string::npos)
      << run.result.out;
  EXPECT_NE(run.result.out.find("every node a voter, none lost"), std::string::npos) << run.result.out;
}

// One seeded chaos run per kind: every damaged restart starts lost and is repaired.
class ChaosStorageFaultKind : public testing::TestWithParam<const char*> {};

TEST_P(ChaosStorageFaultKind, StartsLostAndIsRepaired) {
  expect_every_damage_repaired(run_with_fault(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Kinds, ChaosStorageFaultKind,
                         testing::Values("wiped-directory", "corrupt-hard-state", "committed-bit-flip",
                                         "committed-truncate", "committed-zero-tail", "missing-segment",
                                         "corrupt-snapshot", "uncommitted-bit-flip", "uncommitted-damage"),
                         [](const testing::TestParamInfo<const char*>& info) {
                           std::string name;  // "wiped-directory" -> "WipedDirectory"
                           bool upper = true;
                           for (const char c : std::string_view(info.param)) {
                             if (c == '-') {
                               upper = true;
                             } else {
                               name +=
                                   upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
                               upper = false;
                             }
                           }
                           return name;
                         });

}  // namespace
}  // namespace shmraft::cluster_test
