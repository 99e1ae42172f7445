// The nodes' first snapshots come 1/n of --snapshot-bytes of log apart (snapshot_stagger.h), and a node
// that installs its leader's snapshot keeps its distance from the leader's next one.
#include "node/process/snapshot_stagger.h"

#include <gtest/gtest.h>

namespace shmraft::node {
namespace {

TEST(SnapshotStagger, TheVotersStartEvenlyApart) {
  EXPECT_EQ(snapshot_head_start(1, 3, 300), 0u);
  EXPECT_EQ(snapshot_head_start(2, 3, 300), 100u);
  EXPECT_EQ(snapshot_head_start(3, 3, 300), 200u);
  EXPECT_EQ(snapshot_head_start(4, 3, 300), 0u);  // a node added later shares a voter's place
  EXPECT_EQ(snapshot_head_start(1, 1, 300), 0u);
}

TEST(SnapshotStagger, AfterInstallingTheLeadersSnapshotTheDistanceToItsNextForkIsKept) {
  // Node 3 is 200 bytes ahead of node 1: from node 1's snapshot it starts 200 in; from node 2's, 100.
  EXPECT_EQ(snapshot_head_start_after_install(3, 1, 3, 300), 200u);
  EXPECT_EQ(snapshot_head_start_after_install(3, 2, 3, 300), 100u);
  // Node 1 is 100 behind node 2: 200 of the next 300 bytes in, so it forks 100 after node 2 does.
  EXPECT_EQ(snapshot_head_start_after_install(1, 2, 3, 300), 200u);
  EXPECT_EQ(snapshot_head_start_after_install(2, 2, 3, 300), 0u);
}

}  // namespace
}  // namespace shmraft::node
