// A follower whose data directory is wiped restarts lost (issue 14, first item; node/raft/core.h, "Lost
// state"): it may have voted in terms it no longer knows, so it grants no vote until the leader has
// removed it, added it back as a learner and promoted it — and every acknowledged write stays readable.
// On real processes: the node decides it is lost at start (node/storage/state_detection.h) from its empty
// directory and the incarnation its previous start published in the segment. The scenario is
// lost_repair.h's; damaged_node_test.cpp runs it for damaged files.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/cluster/lost_repair.h"

namespace shmraft::cluster_test {
namespace {

TEST(LostState, AWipedFollowerNeverVotesWhileLostAndIsRepairedAsALearner) {
  expect_lost_then_repaired(
      "lost", {},
      {[](const std::filesystem::path& dir) { std::filesystem::remove_all(dir); }, "files are gone"});
}

}  // namespace
}  // namespace shmraft::cluster_test
