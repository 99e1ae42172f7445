// A follower whose data directory is wiped restarts lost (issue 14, first item; node/raft/core.h, "Lost
// state"): it may have voted in terms it no longer knows, so it grants no vote until the leader has
// removed it, added it back as a learner and promoted it — and every acknowledged write stays readable.
// On real processes: the node decides it is lost at start (node/storage/state_detection.h) from its empty
// directory and the incarnation its previous start published in the segment.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <thread>

#include "tests/cluster/harness.h"

namespace shmraft::cluster_test {
namespace {

using namespace std::chrono_literals;

// (Appended, not "k" + std::to_string(i): GCC 12 warns falsely (-Wrestrict) on that once inlined here.)
std::string key_of(int i) {
  std::string key(1, 'k');
  return key.append(std::to_string(i));
}
std::string value_of(const std::string& key) {
  std::string value(1, 'v');
  return value.append(key);
}

// While the other follower is down the leader cannot commit the lost node's removal (it needs a majority
// of the remaining voters); once the leader is gone as well, the other follower and the lost node are two
// of three, but the lost node's vote is what they would need: the cluster must stay without a leader
// rather than elect one with a vote that may repeat one the node gave before it lost its directory.
TEST(LostState, AWipedFollowerNeverVotesWhileLostAndIsRepairedAsALearner) {
  TestCluster cluster("lost");
  const uint32_t leader = cluster.wait_for_leader();
  const uint32_t lost = leader % cluster.nodes() + 1;
  const uint32_t other = lost % cluster.nodes() + 1;
  ASSERT_NE(other, leader);
  const auto put = [&](const std::string& key) { return cluster.kv({"put", key, value_of(key)}); };
  for (int i = 0; i < 20; ++i) ASSERT_EQ(put(key_of(i)).exit_code, 0);

  ASSERT_EQ(cluster.run("kill", {std::to_string(other)}).exit_code, 0);
  ASSERT_EQ(cluster.run("kill", {std::to_string(lost)}).exit_code, 0);
  std::filesystem::remove_all(cluster.data_root() / ("node" + std::to_string(lost)));
  const CommandResult restart = cluster.run("restart", {std::to_string(lost)});
  ASSERT_EQ(restart.exit_code, 0) << restart.describe();
  const std::filesystem::path lost_log = cluster.data_root() / ("node" + std::to_string(lost)) / "node.log";
  ASSERT_TRUE(
      eventually([&] { return read_file(lost_log).find("lost state") != std::string::npos; }, 10000ms))
      << "node " << lost << " did not start lost:\n"
      << read_file(lost_log);
  std::this_thread::sleep_for(1s);  // it hears the leader, which proposes its removal (not committable)

  ASSERT_EQ(cluster.run("kill", {std::to_string(leader)}).exit_code, 0);
  ASSERT_EQ(cluster.run("restart", {std::to_string(other)}).exit_code, 0);
  // Many election timeouts: without the rule the lost node (the longer log) wins at once with the other
  // follower's vote, or the other follower wins with the lost node's.
  const auto deadline = std::chrono::steady_clock::now() + 4s;
  while (std::chrono::steady_clock::now() < deadline) {
    ASSERT_FALSE(cluster.leader()) << "a leader was elected with the vote of node " << lost
                                   << ", which lost its "
                                   << "state:\n"
                                   << cluster.status().dump(1);
    std::this_thread::sleep_for(100ms);
  }

  // The old leader comes back: it and the other follower elect, commit the removal, add the lost node
  // back as a learner, catch it up and promote it.
  ASSERT_EQ(cluster.run("restart", {std::to_string(leader)}).exit_code, 0);
  cluster.wait_for_leader(20000ms);
  ASSERT_EQ(put("after").exit_code, 0);
  cluster.wait_for_catch_up(20000ms);
  std::this_thread::sleep_for(2s);  // the promotion follows the catch-up

  // Repaired, it is a voter again: with the other follower down, it and the leader commit.
  const uint32_t now_leader = cluster.wait_for_leader();
  const uint32_t down = now_leader == other ? leader : other;
  ASSERT_EQ(cluster.run("kill", {std::to_string(down)}).exit_code, 0);
  const CommandResult last = put("last");
  ASSERT_EQ(last.exit_code, 0) << "node " << lost << " was not promoted back to voter:\n"
                               << last.describe() << cluster.status().dump(1);
  for (int i = 0; i < 20; ++i) {
    const std::string key = key_of(i);
    const CommandResult get = cluster.kv({"get", key});
    EXPECT_EQ(get.out, value_of(key) + '\n') << "acknowledged write " << key << " lost: " << get.describe();
  }
  EXPECT_EQ(cluster.kv({"get", "after"}).out, "vafter\n");
}

}  // namespace
}  // namespace shmraft::cluster_test
