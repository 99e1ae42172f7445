// `shmraft chaos --storage-faults` on real processes (issue 14 item 4): each kind the run injects damages
// what a killed node knows is committed; the node must refuse to start, naming its damaged files, while
// the majority stays linearizable with every acknowledged write. The kinds that are not safe today are
// refused by the command, with their reason.
#include <gtest/gtest.h>

#include <regex>
#include <string>

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

void expect_refused_loudly(const ChaosRun& run) {
  EXPECT_TRUE(run.passed());
  EXPECT_TRUE(
      std::regex_search(run.result.out, std::regex("storage faults: 1 injected, 1 refused at start, 0 "
                                                   "went unnoticed")))
      << run.result.out;
  EXPECT_NE(run.result.out.find("refused to start on its damaged files"), std::string::npos)
      << run.result.out;
}

TEST(ChaosStorageFaults, CommittedBitFlipIsRefused) {
  expect_refused_loudly(run_with_fault("committed-bit-flip"));
}

TEST(ChaosStorageFaults, CommittedTruncationIsRefused) {
  expect_refused_loudly(run_with_fault("committed-truncate"));
}

TEST(ChaosStorageFaults, CommittedZeroedTailIsRefused) {
  expect_refused_loudly(run_with_fault("committed-zero-tail"));
}

TEST(ChaosStorageFaults, MissingSegmentIsRefused) {
  expect_refused_loudly(run_with_fault("missing-segment"));
}

TEST(ChaosStorageFaults, CorruptSnapshotIsRefused) {
  expect_refused_loudly(run_with_fault("corrupt-snapshot"));
}

TEST(ChaosStorageFaults, KindsThatAreNotSafeTodayAreRefusedWithTheirReason) {
  for (const std::string kind : {"uncommitted-damage", "corrupt-hard-state", "wiped-directory"}) {
    const CommandResult result = run_shmraft({"chaos", "--storage-faults", kind, "--duration", "1"}, 30s);
    EXPECT_NE(result.exit_code, 0) << result.describe();
    EXPECT_NE(result.err.find("storage fault '" + kind + "' is refused: "), std::string::npos)
        << result.describe();
    EXPECT_NE(result.err.find("issue 14"), std::string::npos) << result.describe();
  }
}

}  // namespace
}  // namespace shmraft::cluster_test
