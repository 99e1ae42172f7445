// Faults injected through the real command line: leader SIGKILL, minority partition, a partitioned
// follower rejoining (PreVote), whole-cluster SIGKILL and restart.
#include <gtest/gtest.h>

#include <map>

#include "tests/cluster/harness.h"

namespace shmraft::cluster_test {
namespace {

using namespace std::chrono_literals;

// Writes `count` keys through `kv put` and a growing value through `kv append`; returns what the
// cluster acknowledged (exit 0). Every write here must be acknowledged: the cluster is healthy.
std::map<std::string, std::string> write_acknowledged(const TestCluster& cluster, const std::string& prefix,
                                                      int count) {
  std::map<std::string, std::string> acknowledged;
  for (int i = 0; i < count; ++i) {
    const std::string key = prefix + std::to_string(i);
    const std::string value = std::string("v").append(std::to_string(i));
    const CommandResult put = cluster.kv({"put", key, value});
    EXPECT_EQ(put.exit_code, 0) << put.describe();
    if (put.exit_code == 0) acknowledged[key] = value;
    const CommandResult append = cluster.kv({"append", prefix + "log", std::to_string(i) + ","});
    EXPECT_EQ(append.exit_code, 0) << append.describe();
    if (append.exit_code == 0) acknowledged[prefix + "log"] += std::to_string(i) + ",";
  }
  return acknowledged;
}

void expect_readable(const TestCluster& cluster, const std::map<std::string, std::string>& acknowledged) {
  for (const auto& [key, value] : acknowledged) {
    const CommandResult get = cluster.kv({"get", key});
    ASSERT_EQ(get.exit_code, 0) << get.describe();
    EXPECT_EQ(get.out, value + "\n") << "key " << key;
  }
}

uint64_t node_field(const TestCluster& cluster, uint32_t node, const char* field) {
  return cluster.status_of(node)[field].get<uint64_t>();
}

TEST(Faults, LeaderSigkillElectsANewLeaderAndLosesNoAcknowledgedWrite) {
  TestCluster cluster("leader-kill");
  const uint32_t old_leader = cluster.wait_for_leader();
  const auto acknowledged = write_acknowledged(cluster, "a", 10);

  const CommandResult kill = cluster.run("kill", {std::to_string(old_leader)});
  ASSERT_EQ(kill.exit_code, 0) << kill.describe();
  uint32_t new_leader = old_leader;
  ASSERT_TRUE(eventually(
      [&] {
        const auto leader = cluster.leader();
        if (!leader || *leader == old_leader) return false;
        new_leader = *leader;
        return true;
      },
      5000ms))
      << cluster.status().dump(1);
  EXPECT_NE(new_leader, old_leader);
  expect_readable(cluster, acknowledged);

  // The old leader comes back as a follower and catches up on everything.
  ASSERT_EQ(cluster.run("restart", {std::to_string(old_leader)}).exit_code, 0);
  const uint64_t index = cluster.wait_for_catch_up();
  EXPECT_GE(node_field(cluster, old_leader, "applied"), index);
  expect_readable(cluster, acknowledged);
}

TEST(Faults, AMinorityPartitionCannotCommit) {
  TestCluster cluster("minority");
  const uint32_t isolated = cluster.wait_for_leader();
  write_acknowledged(cluster, "before", 2);
  cluster.wait_for_catch_up();
  const uint64_t commit_at_cut = node_field(cluster, isolated, "commit");

  ASSERT_EQ(cluster.run("partition", {std::to_string(isolated)}).exit_code, 0);
  // The majority elects a leader of its own and commits; the client finds it after trying the old one.
  const auto during = write_acknowledged(cluster, "during", 3);
  ASSERT_EQ(during.size(), 4u);
  const auto nodes = cluster.status_nodes();
  for (const auto& node : nodes) {
    const uint32_t id = node["node"].get<uint32_t>();
    if (id == isolated) {
      EXPECT_EQ(node["commit"].get<uint64_t>(), commit_at_cut) << "the isolated node committed alone:\n"
                                                               << nodes.dump(1);
    } else {
      EXPECT_GT(node["commit"].get<uint64_t>(), commit_at_cut) << nodes.dump(1);
    }
  }
  // CheckQuorum: a leader that has not heard from a majority for an election timeout steps down (its
  // check runs once per timeout, so this can take up to two of them).
  EXPECT_TRUE(eventually([&] { return cluster.status_of(isolated)["role"] != "leader"; }, 3000ms))
      << cluster.status().dump(1);
  std::this_thread::sleep_for(300ms);  // time enough to commit, if it could
  EXPECT_EQ(node_field(cluster, isolated, "commit"), commit_at_cut);

  ASSERT_EQ(cluster.run("heal").exit_code, 0);
  const uint64_t index = cluster.wait_for_catch_up();
  EXPECT_GT(index, commit_at_cut);
  expect_readable(cluster, during);
}

TEST(Faults, APartitionedFollowerRejoinsWithoutRaisingTheTerm) {
  TestCluster cluster("prevote");
  const uint32_t leader = cluster.wait_for_leader();
  write_acknowledged(cluster, "k", 1);
  cluster.wait_for_catch_up();
  const uint64_t term = cluster.max_term();
  const uint32_t follower = leader % cluster.nodes() + 1;

  ASSERT_EQ(cluster.run("partition", {std::to_string(follower)}).exit_code, 0);
  // Many election timeouts (150-300 ms): without PreVote the follower's term would climb each time.
  std::this_thread::sleep_for(1500ms);
  const auto cut_off = cluster.status_of(follower);
  EXPECT_EQ(cut_off["term"].get<uint64_t>(), term) << cut_off.dump(1);
  EXPECT_NE(cut_off["role"], "leader");

  ASSERT_EQ(cluster.run("heal").exit_code, 0);
  cluster.wait_for_catch_up();
  EXPECT_EQ(cluster.max_term(), term) << "the rejoining node disrupted the cluster:\n"
                                      << cluster.status().dump(1);
  EXPECT_EQ(cluster.leader(), leader);
}

class WholeClusterRestart : public ::testing::TestWithParam<const char*> {};

TEST_P(WholeClusterRestart, RecoversEverythingAcknowledged) {
  TestCluster cluster("crash-all", {.nodes = 3, .up_args = {}, .node_args = {"--fsync", GetParam()}});
  cluster.wait_for_leader();
  const auto acknowledged = write_acknowledged(cluster, "w", 8);
  for (uint32_t node = 1; node <= cluster.nodes(); ++node) {
    const CommandResult kill = cluster.run("kill", {std::to_string(node)});
    ASSERT_EQ(kill.exit_code, 0) << kill.describe();
  }
  for (pid_t pid : cluster.node_pids()) EXPECT_EQ(pid, 0);
  for (uint32_t node = 1; node <= cluster.nodes(); ++node) {
    const CommandResult restart = cluster.run("restart", {std::to_string(node)});
    ASSERT_EQ(restart.exit_code, 0) << restart.describe();
  }
  cluster.wait_for_leader();
  expect_readable(cluster, acknowledged);
  cluster.wait_for_catch_up();
}

INSTANTIATE_TEST_SUITE_P(FsyncModes, WholeClusterRestart, ::testing::Values("none", "batch"));

}  // namespace
}  // namespace shmraft::cluster_test
