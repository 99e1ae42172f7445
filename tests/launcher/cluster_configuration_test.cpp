// What `shmraft up` starts for a cluster that ran before (issue 12): the configuration of the most
// up-to-date log, read from node directories written by the node's own storage, without changing a byte
// of them; the initial voters as recorded; -n and --max-nodes that contradict the stored cluster refused.
#include "launcher/cluster_configuration.h"

#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <sstream>
#include <vector>

#include "launcher/launcher_error.h"
#include "node/raft/conf_change.h"
#include "node/raft/types.h"
#include "node/storage/node_storage.h"
#include "tests/temp_dir.h"

namespace shmraft::launcher {
namespace {

namespace fs = std::filesystem;
using raft::ConfChangeType;

const std::array<std::byte, 1> kCommand{std::byte{7}};

// A node's log written through its own storage: one entry per call, a configuration change or a command.
class NodeLog {
 public:
  explicit NodeLog(const fs::path& dir) : storage_(dir, storage::Options{8192, storage::Durability::none}) {}

  void command(uint64_t term) { append(term, kCommand, raft::EntryType::kNormal); }
  void change(uint64_t term, ConfChangeType type, uint32_t node) {
    const auto payload = raft::encode_conf_change(raft::ConfChange{type, node, 0});
    append(term, payload, raft::EntryType::kConfChange);
  }
  void snapshot(const raft::ConfState& conf) {
    const uint64_t index = storage_.last_index();
    storage_.save_snapshot(
        storage::SnapshotMeta{index, storage_.term(index), conf.voters.bits(), conf.learners.bits(),
                              conf.repairing, conf.repair_incarnation},
        kCommand);
  }

 private:
  void append(uint64_t term, std::span<const std::byte> payload, raft::EntryType type) {
    const storage::LogEntry entry{storage_.last_index() + 1, term, payload, static_cast<uint8_t>(type)};
    storage_.append(std::span(&entry, 1));
    storage_.save_hard_state(storage::HardState{term, 0, 0, 0});
    storage_.sync();
  }
  storage::NodeStorage storage_;
};

raft::ConfState voters_1_to(uint32_t n) {
  raft::ConfState conf;
  for (uint32_t node = 1; node <= n; ++node) conf.voters.insert(node);
  return conf;
}

// Cluster "c" under a temporary root, stamped for nodes 1..n, with initial voters 1..n recorded.
struct StoredCluster {
  explicit StoredCluster(uint32_t n) : dirs("c", tmp.path() / "c"), id(ipc::ClusterId::random()) {
    dirs.stamp(n, id);
    dirs.record_initial_voters(n, id);
  }
  testing::TempDir tmp;
  ClusterDirs dirs;
  ipc::ClusterId id;
};

// Every byte of every file under `dir`, by path.
std::map<fs::path, std::string> contents(const fs::path& dir) {
  std::map<fs::path, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    files[entry.path()] = bytes.str();
  }
  return files;
}

TEST(StoredConfiguration, ALogReplaysItsChangesOnTheInitialVoters) {
  testing::TempDir tmp;
  {
    NodeLog log(tmp.path() / "n");
    log.command(1);
    log.change(1, ConfChangeType::kAddLearner, 4);
    log.change(1, ConfChangeType::kPromoteLearner, 4);
    log.change(2, ConfChangeType::kRemoveNode, 1);
    log.change(2, ConfChangeType::kAddLearner, 6);
    log.command(2);
  }
  const NodeLogSummary summary = summarize_node_log(tmp.path() / "n", voters_1_to(3));
  EXPECT_EQ(summary.conf.voters.ids(), (std::vector<uint32_t>{2, 3, 4}));
  EXPECT_EQ(summary.conf.learners.ids(), (std::vector<uint32_t>{6}));
  EXPECT_EQ(summary.last_index, 6u);
  EXPECT_EQ(summary.last_term, 2u);
  EXPECT_EQ(summary.highest_id, 6u);
}

TEST(StoredConfiguration, ASnapshotsConfigurationIsWhereTheLogAfterItContinues) {
  testing::TempDir tmp;
  raft::ConfState at_snapshot;
  at_snapshot.voters = raft::NodeSet::from_bits(0b11100);  // 2, 3, 4
  {
    NodeLog log(tmp.path() / "n");
    for (int i = 0; i < 3; ++i) log.command(1);
    log.snapshot(at_snapshot);
    log.change(3, ConfChangeType::kAddLearner, 5);
  }
  const NodeLogSummary summary = summarize_node_log(tmp.path() / "n", voters_1_to(3));
  EXPECT_EQ(summary.conf.voters.ids(), (std::vector<uint32_t>{2, 3, 4}));
  EXPECT_EQ(summary.conf.learners.ids(), (std::vector<uint32_t>{5}));
  EXPECT_EQ(summary.last_index, 4u);
  EXPECT_EQ(summary.last_term, 3u);
}

TEST(StoredConfiguration, AnEmptyOrMissingDirectoryHoldsTheInitialVoters) {
  testing::TempDir tmp;
  const NodeLogSummary missing = summarize_node_log(tmp.path() / "none", voters_1_to(3));
  EXPECT_EQ(missing.conf, voters_1_to(3));
  EXPECT_EQ(missing.last_index, 0u);
}

// The log whose last entry has the highest term wins over a longer one of an older term (it was written
// by a later leader, which held every committed entry); its uncommitted change counts.
TEST(StoredConfiguration, TheMostUpToDateLogDecidesNotTheLongest) {
  StoredCluster cluster(3);
  {
    NodeLog longer(cluster.dirs.node_dir(1));
    for (int i = 0; i < 5; ++i) longer.command(1);
    NodeLog later(cluster.dirs.node_dir(2));
    later.command(1);
    later.command(2);
    later.change(2, ConfChangeType::kAddLearner, 4);
  }
  const StoredConfiguration stored = stored_configuration(cluster.dirs, {1, 2, 3}, 3);
  ASSERT_TRUE(stored.from_node);
  EXPECT_EQ(*stored.from_node, 2u);
  EXPECT_EQ(stored.conf.learners.ids(), (std::vector<uint32_t>{4}));
  EXPECT_EQ(stored.last_term, 2u);
  EXPECT_EQ(stored.last_index, 3u);
}

// Reading changes nothing, also where the node's own recovery would: a damaged last record (a torn
// tail it zeroes) is only where the read stops.
TEST(StoredConfiguration, ReadingLeavesEveryByteAsItWas) {
  testing::TempDir tmp;
  const fs::path dir = tmp.path() / "n";
  {
    NodeLog log(dir);
    log.command(1);
    log.change(1, ConfChangeType::kAddLearner, 4);
  }
  // The second record's CRC field (the last 4 bytes of its 32-byte header) flipped: the log ends at 1.
  const fs::path segment = fs::directory_iterator(dir / "log")->path();
  {
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    const std::streamoff second_record_crc = 32 + storage::format::record_bytes(kCommand.size()) + 28;
    file.seekg(second_record_crc);
    char byte = 0;
    file.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x10);
    file.seekp(second_record_crc);
    file.write(&byte, 1);
  }
  const auto before = contents(dir);
  const NodeLogSummary summary = summarize_node_log(dir, voters_1_to(3));
  EXPECT_EQ(summary.last_index, 1u);
  EXPECT_EQ(summary.conf, voters_1_to(3)) << "the change in the damaged record does not count";
  EXPECT_EQ(contents(dir), before);
}

TEST(PlanUp, ANewClusterStartsTheRequestedVoters) {
  testing::TempDir tmp;
  const ClusterDirs dirs("c", tmp.path() / "c");
  UpRequest request;
  request.segment.node_count = 5;
  std::ostringstream log;
  const ClusterPlan plan = plan_up(dirs, std::nullopt, request, log);
  EXPECT_EQ(plan.nodes.ids(), (std::vector<uint32_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(plan.voters, plan.nodes);
  EXPECT_EQ(plan.segment, request.segment);
}

TEST(PlanUp, AClusterThatRanStartsItsStoredMembersWithRoomForEveryIdItsLogsName) {
  StoredCluster cluster(3);
  {
    NodeLog node2(cluster.dirs.node_dir(2));
    node2.command(1);
    node2.change(1, ConfChangeType::kAddLearner, 9);
    node2.change(1, ConfChangeType::kPromoteLearner, 9);
    node2.change(1, ConfChangeType::kRemoveNode, 1);
  }
  cluster.dirs.stamp_node(9, cluster.id);
  UpRequest request;  // -n and --max-nodes left out
  std::ostringstream log;
  const ClusterPlan plan = plan_up(cluster.dirs, cluster.id, request, log);
  EXPECT_EQ(plan.nodes.ids(), (std::vector<uint32_t>{2, 3, 9})) << log.str();
  EXPECT_EQ(plan.voters, plan.nodes);
  EXPECT_EQ(plan.ran_before, plan.nodes) << "a member that starts without its files lost them";
  EXPECT_EQ(plan.segment.node_count, 3u) << "the initial voters stay what the logs continue";
  EXPECT_EQ(plan.segment.max_nodes, 9u) << "room for node 9 beyond the default 7";
  EXPECT_NE(log.str().find("voters 2,3,9; learners none"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("not started, no members: node 1 (directories kept)"), std::string::npos)
      << log.str();

  request.nodes_given = true;  // -n 3: what was recorded, accepted
  EXPECT_EQ(plan_up(cluster.dirs, cluster.id, request, log).nodes, plan.nodes);
  request.segment.node_count = 4;
  try {
    plan_up(cluster.dirs, cluster.id, request, log);
    ADD_FAILURE() << "-n 4 accepted for a cluster that began with 3 voters";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("began with voters 1..3 and its logs continue that configuration"),
              std::string::npos)
        << e.what();
  }
  request = UpRequest{};
  request.max_nodes_given = true;
  request.segment.max_nodes = 8;
  try {
    plan_up(cluster.dirs, cluster.id, request, log);
    ADD_FAILURE() << "--max-nodes 8 accepted for a log naming node 9";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--max-nodes 8 leaves no room for node 9"), std::string::npos)
        << e.what();
  }
}

// A root written before the initial voters were recorded takes -n for them, and says so.
TEST(PlanUp, WithoutARecordTheGivenNodeCountIsTheInitialVoters) {
  testing::TempDir tmp;
  const ClusterDirs dirs("c", tmp.path() / "c");
  const ipc::ClusterId id = ipc::ClusterId::random();
  dirs.stamp(5, id);
  UpRequest request;
  request.segment.node_count = 5;
  request.nodes_given = true;
  std::ostringstream log;
  const ClusterPlan plan = plan_up(dirs, id, request, log);
  EXPECT_EQ(plan.nodes.ids(), (std::vector<uint32_t>{1, 2, 3, 4, 5}));
  EXPECT_NE(log.str().find("holds no record of the initial voters"), std::string::npos) << log.str();
}

TEST(PlanUp, ARecordOfAnotherClusterIsRefused) {
  StoredCluster cluster(3);
  EXPECT_THROW(cluster.dirs.initial_voters(ipc::ClusterId::random()), LauncherError);
  EXPECT_EQ(cluster.dirs.initial_voters(cluster.id), 3u);
}

}  // namespace
}  // namespace shmraft::launcher
