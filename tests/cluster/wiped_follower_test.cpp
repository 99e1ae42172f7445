// A follower whose data directory is wiped rejoins a running cluster (issue 14, first symptom): the
// leader must notice that the follower went backwards and send it everything again, under the same
// leader, so that the cluster can afterwards lose its OTHER follower and still commit. Before the leader
// reset a restarted follower's progress, it kept the old match index, dropped the follower's rejections
// as stale, and the writes after the second kill hung. The wiped node starts lost and is repaired
// (removed, added back as a learner, promoted) under the same leader, without an election, before it counts
// again; that it never votes while lost is lost_state_test.cpp's.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "tests/cluster/harness.h"

namespace shmraft::cluster_test {
namespace {

using namespace std::chrono_literals;

// `kv put` in a loop on its own thread until stopped; every write must be acknowledged (a majority is
// up all along), and what failed is kept for the failure message.
class BackgroundWriter {
 public:
  explicit BackgroundWriter(const TestCluster& cluster)
      : thread_([this, &cluster] {
          for (int i = 0; !stop_; ++i) {
            const CommandResult put = cluster.kv({"put", "bg" + std::to_string(i % 50), std::to_string(i)});
            std::lock_guard lock(mutex_);
            if (put.exit_code == 0) {
              ++acknowledged_;
            } else {
              failures_.push_back(put.describe());
            }
          }
        }) {}
  ~BackgroundWriter() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int acknowledged() {
    std::lock_guard lock(mutex_);
    return acknowledged_;
  }
  std::vector<std::string> failures() {
    std::lock_guard lock(mutex_);
    return failures_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  int acknowledged_ = 0;
  std::vector<std::string> failures_;
  std::thread thread_;
};

uint64_t field(const nlohmann::json& node, const char* name) {
  return node[name].get<uint64_t>();
}

TEST(WipedFollower, CatchesUpUnderTheSameLeaderAndCountsTowardsTheQuorum) {
  TestCluster cluster("wiped");
  const uint32_t leader = cluster.wait_for_leader();
  const uint32_t wiped = leader % cluster.nodes() + 1;
  const uint32_t other = wiped % cluster.nodes() + 1;
  ASSERT_NE(other, leader);
  const uint64_t term = field(cluster.status_of(leader), "term");
  const uint64_t old_incarnation = field(cluster.status_of(wiped), "incarnation");

  BackgroundWriter writer(cluster);
  ASSERT_TRUE(eventually([&] { return writer.acknowledged() >= 10; }, 20000ms));
  const CommandResult kill = cluster.run("kill", {std::to_string(wiped)});
  ASSERT_EQ(kill.exit_code, 0) << kill.describe();
  // The leader moves on without it, so its match index for the wiped node is well above 0.
  const int before_wipe = writer.acknowledged();
  ASSERT_TRUE(eventually([&] { return writer.acknowledged() >= before_wipe + 10; }, 20000ms));
  const uint64_t resets_before = field(cluster.status_of(leader), "progress_resets");
  std::filesystem::remove_all(cluster.data_root() / ("node" + std::to_string(wiped)));
  const CommandResult restart = cluster.run("restart", {std::to_string(wiped)});
  ASSERT_EQ(restart.exit_code, 0) << restart.describe();

  // Caught up, still under writes: it applied everything the leader had committed when it came back.
  const uint64_t commit_at_restart = field(cluster.status_of(leader), "commit");
  EXPECT_GT(field(cluster.status_of(wiped), "incarnation"), old_incarnation)
      << "a wiped node's new start must still look newer to the leader";
  const bool caught_up = eventually(
      [&] {
        const nlohmann::json node = cluster.status_of(wiped);
        return node["alive"].get<bool>() && field(node, "applied") >= commit_at_restart;
      },
      10000ms);
  ASSERT_TRUE(caught_up) << "node " << wiped << " (wiped) did not catch up to index " << commit_at_restart
                         << ":\n"
                         << cluster.status().dump(1) << "\n"
                         << read_file(cluster.data_root() / ("node" + std::to_string(wiped) + ".out"));
  writer.stop();
  EXPECT_TRUE(writer.failures().empty()) << writer.failures().front();
  cluster.wait_for_catch_up();
  const nlohmann::json still = cluster.status_of(leader);
  EXPECT_EQ(still["role"], "leader") << cluster.status().dump(1);
  EXPECT_EQ(field(still, "term"), term) << "an election happened:\n" << cluster.status().dump(1);
  EXPECT_GT(field(still, "progress_resets"), resets_before)
      << "the leader caught the node up without resetting its progress?\n"
      << cluster.status().dump(1);

  // Now it is one of the two nodes a commit needs: without the other follower, writes still complete
  // within the client's timeout (kv's default, 5 s; the harness kills a hanging one at 30 s).
  ASSERT_EQ(cluster.run("kill", {std::to_string(other)}).exit_code, 0);
  for (int i = 0; i < 5; ++i) {
    const CommandResult put = cluster.kv({"put", "after" + std::to_string(i), "v"});
    ASSERT_EQ(put.exit_code, 0) << "a write hung with node " << other << " down and node " << wiped
                                << " wiped and restarted:\n"
                                << put.describe() << cluster.status().dump(1);
  }
  const CommandResult get = cluster.kv({"get", "after4"});
  EXPECT_EQ(get.out, "v\n") << get.describe();
}

}  // namespace
}  // namespace shmraft::cluster_test
