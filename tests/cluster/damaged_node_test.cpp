// `shmraft up` with nodes whose log is damaged (issue 14): a node that refuses to start (a bit flipped in
// a committed record) is named with its own error, and the healthy majority serves; without a majority,
// `up` stops everything and says why.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <thread>

#include "node/storage/format.h"
#include "tests/cluster/harness.h"

namespace shmraft::cluster_test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A 3-node cluster that acknowledged `keys` puts (k<i> = v<i>), stopped with `shmraft down`.
void write_and_stop(TestCluster& cluster, int keys) {
  cluster.wait_for_leader();
  for (int i = 0; i < keys; ++i) {
    const std::string n = std::to_string(i);
    const CommandResult put = cluster.kv({"put", std::string("k").append(n), std::string("v").append(n)});
    ASSERT_EQ(put.exit_code, 0) << put.describe();
  }
  cluster.wait_for_catch_up();
  const CommandResult down = cluster.down();
  ASSERT_EQ(down.exit_code, 0) << down.describe();
}

// Flips a bit in the term of the node's first log record: committed, and followed by valid records, so
// recovery cannot take it for a torn write and refuses to start.
void damage_first_record(const TestCluster& cluster, uint32_t node) {
  std::vector<fs::path> segments;
  for (const auto& entry :
       fs::directory_iterator(cluster.data_root() / ("node" + std::to_string(node)) / "log"))
    segments.push_back(entry.path());
  ASSERT_FALSE(segments.empty());
  const fs::path first = *std::min_element(segments.begin(), segments.end());
  std::fstream file(first, std::ios::in | std::ios::out | std::ios::binary);
  const auto offset = static_cast<std::streamoff>(sizeof(storage::format::SegmentHeader) +
                                                  offsetof(storage::format::RecordHeader, term));
  char byte = 0;
  file.seekg(offset);
  file.get(byte);
  file.seekp(offset);
  file.put(static_cast<char>(byte ^ 0x04));
  ASSERT_TRUE(file.good()) << "cannot damage " << first;
}

std::vector<std::string> up_args(const TestCluster& cluster) {
  return {"up", "-c", cluster.name(), "--data-dir", cluster.data_root().string()};
}

TEST(DamagedNode, UpStartsTheHealthyMajorityAndNamesTheDamagedNodeWithItsError) {
  TestCluster cluster("damaged-one");
  write_and_stop(cluster, 10);
  damage_first_record(cluster, 2);

  CommandResult up;
  std::jthread supervisor([&] { up = run_shmraft(up_args(cluster), 60s); });
  struct StopAtExit {
    const TestCluster& cluster;
    ~StopAtExit() { cluster.run("down"); }
  } stop_at_exit{cluster};

  // The two healthy nodes elect a leader, still hold what was acknowledged, and take new writes.
  CommandResult get;
  EXPECT_TRUE(eventually(
      [&] {
        get = cluster.kv({"get", "k9"});
        return get.exit_code == 0;
      },
      15000ms))
      << get.describe();
  EXPECT_EQ(get.out, "v9\n");
  const CommandResult put = cluster.kv({"put", "after", "damage"});
  EXPECT_EQ(put.exit_code, 0) << put.describe();
  EXPECT_FALSE(cluster.status_of(2)["alive"].get<bool>()) << cluster.status().dump(1);
  EXPECT_TRUE(cluster.status_of(1)["alive"].get<bool>());
  EXPECT_TRUE(cluster.status_of(3)["alive"].get<bool>());

  ASSERT_EQ(cluster.run("down").exit_code, 0);
  supervisor.join();
  EXPECT_EQ(up.exit_code, 0) << up.describe();
  EXPECT_NE(up.err.find("node 2 failed to start (exit 1): "), std::string::npos) << up.describe();
  EXPECT_NE(up.err.find("corrupt log: "), std::string::npos) << "the node's own error:\n" << up.describe();
  EXPECT_NE(up.err.find("warning: cluster '" + cluster.name() + "' runs without node 2"), std::string::npos)
      << up.describe();
  EXPECT_EQ(up.err.find("node 1 failed"), std::string::npos) << up.describe();
  EXPECT_EQ(up.err.find("node 3 failed"), std::string::npos) << up.describe();
}

TEST(DamagedNode, UpStopsEverythingAndSaysWhyWhenNoMajorityCanStart) {
  TestCluster cluster("damaged-two");
  write_and_stop(cluster, 10);
  damage_first_record(cluster, 2);
  damage_first_record(cluster, 3);

  const CommandResult up = run_shmraft(up_args(cluster), 60s);
  EXPECT_EQ(up.exit_code, 1) << up.describe();
  EXPECT_NE(up.err.find("node 2 failed to start (exit 1): "), std::string::npos) << up.describe();
  EXPECT_NE(up.err.find("node 3 failed to start (exit 1): "), std::string::npos) << up.describe();
  EXPECT_NE(up.err.find("no majority could start: nodes 2, 3 of 3 failed"), std::string::npos)
      << up.describe();
  EXPECT_FALSE(segment_exists(cluster.name())) << "the segment outlived the refused start";
}

}  // namespace
}  // namespace shmraft::cluster_test
