// Two of three nodes damaged (issue 14, case 2): outside the fault model, which allows a minority. With
// the newest hard-state slot corrupted and the log tail zeroed on two nodes, both must start lost (a
// skipped slot is lost state: its term and vote may be newer than the older slot's), so they vote on
// nothing and no leader is elected on what they forgot. Required: no acknowledged write is silently lost
// (every read returns its value or fails), the intact node's log is never cut below what it held, and
// `shmraft status` refuses loudly, naming the lost majority, with exit code 3, as `up` does on stderr.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include "launcher/chaos/storage_faults.h"
#include "node/storage/node_storage.h"
#include "tests/cluster/harness.h"

namespace shmraft::cluster_test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kKeys = 20;
constexpr uint64_t kZeroedEntries = 13;  // the count of committed keys that read back empty
constexpr uint32_t kIntact = 3;

std::string key_of(int i) {
  return fmt::format("k{}", i);
}
std::string value_of(int i) {
  return fmt::format("v{}", i);
}

fs::path node_dir(const TestCluster& cluster, uint32_t node) {
  return cluster.data_root() / ("node" + std::to_string(node));
}

uint64_t stored_last_index(const fs::path& dir) {
  return storage::NodeStorage(dir).last_index();
}

// `status --once --json` whatever its exit code (3 is the refusal); null before `up` created the segment.
nlohmann::json status_json(const TestCluster& cluster) {
  const CommandResult r = cluster.run("status", {"--once", "--json"});
  if (r.exit_code != 0 && r.exit_code != 3) return nullptr;
  return nlohmann::json::parse(r.out);
}

nlohmann::json node_entry(const nlohmann::json& status, uint32_t node) {
  if (status.is_null()) return nlohmann::json::object();
  for (const auto& entry : status["nodes"])
    if (entry["node"].get<uint32_t>() == node) return entry;
  return nlohmann::json::object();
}

TEST(MajorityLost, TwoDamagedNodesOfThreeLoseNoAcknowledgedWriteAndTheClusterRefusesLoudly) {
  TestCluster cluster("two-of-three");
  cluster.wait_for_leader();
  for (int i = 0; i < kKeys; ++i) {
    const CommandResult put = cluster.kv({"put", key_of(i), value_of(i)});
    ASSERT_EQ(put.exit_code, 0) << put.describe();
  }
  cluster.wait_for_catch_up();
  ASSERT_EQ(cluster.down().exit_code, 0);
  const uint64_t held = stored_last_index(node_dir(cluster, kIntact));

  std::mt19937_64 rng(14);  // fixed: which bit of the slot flips does not matter, only that one does
  for (const uint32_t node : {1u, 2u}) {
    const fs::path dir = node_dir(cluster, node);
    const uint64_t last = stored_last_index(dir);
    ASSERT_GT(last, kZeroedEntries);
    const auto zeroed = launcher::zero_log_from(dir, last - kZeroedEntries + 1);
    ASSERT_TRUE(zeroed) << "node " << node;
    const auto corrupted =
        launcher::damage_node_files(launcher::StorageFaultKind::corrupt_hard_state, dir, rng);
    ASSERT_TRUE(corrupted) << "node " << node;
    std::cout << "node " << node << ": " << *zeroed << "; " << *corrupted << std::endl;
  }

  CommandResult up;
  std::jthread supervisor([&] {
    up = run_shmraft({"up", "-c", cluster.name(), "--data-dir", cluster.data_root().string()}, 60s);
  });
  struct StopAtExit {
    const TestCluster& cluster;
    ~StopAtExit() { cluster.run("down"); }
  } stop_at_exit{cluster};

  // Both damaged nodes report lost.
  nlohmann::json status;
  const bool both_lost = eventually(
      [&] {
        status = status_json(cluster);
        return node_entry(status, 1).value("lost", 0u) != 0 && node_entry(status, 2).value("lost", 0u) != 0;
      },
      15000ms);
  if (!both_lost) {
    cluster.run("down");
    supervisor.join();
    FAIL() << "the damaged nodes did not both start lost:\n" << status.dump(1) << "\n" << up.describe();
  }

  // Every read of an acknowledged write returns its value or fails loudly; none reads back empty.
  for (int i = 0; i < kKeys; ++i) {
    const CommandResult get = cluster.kv({"--timeout-ms", "500", "get", key_of(i)});
    if (get.exit_code == 0) {
      EXPECT_EQ(get.out, value_of(i) + '\n') << key_of(i) << ": " << get.describe();
    } else {
      EXPECT_TRUE(get.exit_code == 1 || get.exit_code == 4)
          << key_of(i) << " silently lost: " << get.describe();
      EXPECT_FALSE(get.err.empty()) << key_of(i) << ": " << get.describe();
    }
  }

  // The refusal is loud: the table, then why the cluster cannot serve, exit code 3.
  const CommandResult text = cluster.run("status", {"--once"});
  std::cout << text.out << text.err;
  EXPECT_EQ(text.exit_code, 3) << text.describe();
  EXPECT_NE(text.err.find(
                "cluster '" + cluster.name() +
                "' cannot serve: a majority of its voters lost their state (nodes 1, 2 of voters 1, 2, 3)"),
            std::string::npos)
      << text.describe();
  EXPECT_NE(text.err.find("Node 3 kept its state"), std::string::npos) << text.describe();
  status = status_json(cluster);
  EXPECT_EQ(status["majority_lost"]["lost"], nlohmann::json({1, 2})) << status.dump(1);

  // The intact node kept every entry it held.
  const nlohmann::json intact = node_entry(status, kIntact);
  EXPECT_TRUE(intact.value("alive", false)) << status.dump(1);
  EXPECT_GE(intact.value("last_index", uint64_t{0}), held) << status.dump(1);
  ASSERT_EQ(cluster.run("down").exit_code, 0);
  supervisor.join();
  EXPECT_GE(stored_last_index(node_dir(cluster, kIntact)), held);
  EXPECT_NE(
      up.err.find("shmraft: error: cluster '" + cluster.name() + "' cannot serve: a majority of its voters"),
      std::string::npos)
      << up.describe();
}

}  // namespace
}  // namespace shmraft::cluster_test
