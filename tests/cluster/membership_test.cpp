// Membership changes in real processes (issue 12): `shmraft member` and `shmraft transfer` against a
// running cluster. 3 -> 5 -> 3 voters while a client writes, with every acknowledged write then read
// back through each remaining voter as leader; leadership handed to a named node; the CLI's refusals;
// a learner that never counts toward a majority; a joined node's links cut and healed like anyone's; and
// the members kept across `down` and `up`.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "ipc/segment.h"
#include "launcher/child_process.h"
#include "launcher/client/client.h"
#include "tests/cluster/harness.h"

namespace shmraft::cluster_test {
namespace {

using namespace std::chrono_literals;

constexpr int kKeys = 20;

// Puts "m<i % kKeys>" = i in a loop on its own thread (in-process client: no process per write) and
// keeps, per key, the last value acknowledged and the last value attempted.
class Writer {
 public:
  explicit Writer(const std::string& cluster)
      : thread_([this, cluster] {
          client::ClientOptions options;
          options.operation_timeout = 5s;
          client::Client client(cluster, options);
          for (int i = 0; !stop_; ++i) {
            const std::string key = fmt::format("m{}", i % kKeys);
            {
              std::lock_guard lock(mutex_);
              attempted_[key] = i;
            }
            const client::Result put = client.put(key, std::to_string(i));
            std::lock_guard lock(mutex_);
            if (put.ok()) {
              acknowledged_[key] = i;
              ++acks_;
            } else {
              ++failures_;
            }
          }
        }) {}
  ~Writer() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int acks() {
    std::lock_guard lock(mutex_);
    return acks_;
  }
  int failures() {
    std::lock_guard lock(mutex_);
    return failures_;
  }
  std::map<std::string, int> acknowledged() {
    std::lock_guard lock(mutex_);
    return acknowledged_;
  }
  std::map<std::string, int> attempted() {
    std::lock_guard lock(mutex_);
    return attempted_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::map<std::string, int> acknowledged_, attempted_;
  int acks_ = 0, failures_ = 0;
  std::thread thread_;
};

// Waits for `acks` more acknowledged writes: the cluster commits in its current configuration.
void expect_progress(Writer& writer, int acks, const char* when) {
  const int before = writer.acks();
  EXPECT_TRUE(eventually([&] { return writer.acks() >= before + acks; }, 20s))
      << "no writes acknowledged " << when << " (" << writer.acks() - before << " of " << acks << ")";
}

void expect_ok(const CommandResult& result) {
  EXPECT_EQ(result.exit_code, 0) << result.describe();
}

// The nodes `status` reports alive; none while the cluster is not up.
std::set<uint32_t> alive_nodes(const TestCluster& cluster) {
  const CommandResult status = cluster.run("status", {"--once", "--json"});
  std::set<uint32_t> alive;
  if (status.exit_code != 0) return alive;
  // Kept in a variable: a range-for over the parsed temporary's "nodes" would read a destroyed object.
  const nlohmann::json nodes = nlohmann::json::parse(status.out)["nodes"];
  for (const auto& node : nodes)
    if (node["alive"].get<bool>()) alive.insert(node["node"].get<uint32_t>());
  return alive;
}

uint32_t announced_leader(const std::string& cluster) {
  const ipc::Segment segment = ipc::Segment::attach(cluster);
  return segment.leader_record().read().leader.value_or(0);
}

TEST(Membership, ThreeToFiveToThreeWhileAClientWritesLosesNoAcknowledgedWrite) {
  TestCluster cluster("members");
  cluster.wait_for_leader();
  Writer writer(cluster.name());
  expect_progress(writer, 20, "by the first configuration");

  for (const std::string node : {"4", "5"}) {
    const CommandResult add = cluster.run("member", {"add", node});
    expect_ok(add);
    EXPECT_NE(add.out.find("node " + node + " joined cluster '" + cluster.name() + "' as a learner"),
              std::string::npos)
        << add.describe();
    expect_progress(writer, 10, ("after adding node " + node).c_str());
  }
  for (const std::string node : {"4", "5"}) {
    expect_ok(cluster.run("member", {"promote", node}));
    expect_progress(writer, 10, ("after promoting node " + node).c_str());
  }
  // Back to three voters by removing two of the originals: one of them may be the leader, which then
  // hands over before its process is stopped.
  for (const std::string node : {"1", "2"}) {
    const CommandResult remove = cluster.run("member", {"remove", node});
    expect_ok(remove);
    EXPECT_NE(remove.out.find("stopped node " + node), std::string::npos) << remove.describe();
    expect_progress(writer, 10, ("after removing node " + node).c_str());
  }
  writer.stop();

  const CommandResult list = cluster.run("member", {"list"});
  expect_ok(list);
  EXPECT_NE(list.out.find("3 voters, 0 learners"), std::string::npos) << list.describe();

  // Every voter holds every acknowledged write: each one leads in turn and serves the reads itself.
  const std::map<std::string, int> acknowledged = writer.acknowledged();
  const std::map<std::string, int> attempted = writer.attempted();
  ASSERT_EQ(acknowledged.size(), static_cast<std::size_t>(kKeys));
  for (const uint32_t voter : {3u, 4u, 5u}) {
    expect_ok(cluster.run("transfer", {std::to_string(voter)}));
    ASSERT_EQ(announced_leader(cluster.name()), voter);
    client::Client reader(cluster.name());
    for (const auto& [key, value] : acknowledged) {
      const client::Result got = reader.get(key);
      ASSERT_TRUE(got.ok()) << key << " through node " << voter;
      const int read = std::stoi(got.value);
      // A write that was not acknowledged may still have been applied after the acknowledged one.
      EXPECT_GE(read, value) << key << " through node " << voter << " lost an acknowledged write";
      EXPECT_LE(read, attempted.at(key)) << key << " through node " << voter;
    }
  }
}

// `shmraft up` of `cluster` once more after its `down`, as another shell would run it; its output goes to
// `up_log`.
ScopedClusterFiles start_up_again(TestCluster& cluster, const std::filesystem::path& up_log) {
  return ScopedClusterFiles{
      "",
      {},
      launcher::spawn_child(
          {SHMRAFT_BINARY, "up", "-c", cluster.name(), "--data-dir", cluster.data_root().string()}, up_log)};
}

// `shmraft down` of what start_up_again started: the supervisor must exit.
void stop_up_again(TestCluster& cluster, ScopedClusterFiles& up, const std::filesystem::path& up_log) {
  expect_ok(cluster.run("down"));
  EXPECT_TRUE(launcher::wait_for_exit(up.process, 10s).has_value()) << read_file(up_log);
  up.process = 0;
}

// `shmraft up` of a cluster that ran before starts the members of the configuration its logs hold: after
// 1,2,3 -> add and promote 4, remove 1, add learner 5 -> `down`, `up` (no -n) starts 2, 3, 4 and the
// learner 5, not node 1, whose directory stays; every write is there and the cluster takes new ones.
// -n or --max-nodes that contradict the stored cluster are refused before anything starts.
TEST(Membership, DownAndUpKeepTheMembersTheLogsHold) {
  TestCluster cluster("keep-members");
  cluster.wait_for_leader();
  constexpr int kWrites = 10;
  for (int i = 0; i < kWrites; ++i)
    ASSERT_EQ(cluster.kv({"put", fmt::format("k{}", i), std::to_string(i)}).exit_code, 0);
  expect_ok(cluster.run("member", {"add", "4"}));
  expect_ok(cluster.run("member", {"promote", "4"}));
  expect_ok(cluster.run("member", {"remove", "1"}));
  expect_ok(cluster.run("member", {"add", "5"}));
  ASSERT_EQ(cluster.kv({"put", "after", "changes"}).exit_code, 0);
  const CommandResult down = cluster.down();
  ASSERT_EQ(down.exit_code, 0) << down.describe();

  const std::string root = cluster.data_root().string();
  const CommandResult other_n = run_shmraft({"up", "-c", cluster.name(), "--data-dir", root, "-n", "5"});
  EXPECT_EQ(other_n.exit_code, 2) << other_n.describe();
  EXPECT_NE(other_n.err.find("began with voters 1..3 and its logs continue that configuration"),
            std::string::npos)
      << other_n.describe();
  const CommandResult no_room =
      run_shmraft({"up", "-c", cluster.name(), "--data-dir", root, "--max-nodes", "4"});
  EXPECT_EQ(no_room.exit_code, 2) << no_room.describe();
  EXPECT_NE(no_room.err.find("--max-nodes 4 leaves no room for node 5"), std::string::npos)
      << no_room.describe();
  EXPECT_FALSE(segment_exists(cluster.name())) << "a refused `up` started something";

  const std::filesystem::path up_log = cluster.data_root() / "up-again.log";
  ScopedClusterFiles up_again = start_up_again(cluster, up_log);
  ASSERT_TRUE(eventually(
      [&] {
        return alive_nodes(cluster) == std::set<uint32_t>{2, 3, 4, 5};
      },
      15s))
      << read_file(up_log);
  cluster.wait_for_leader();
  const std::string started = read_file(up_log);
  EXPECT_NE(started.find("voters 2,3,4; learners 5"), std::string::npos) << started;
  EXPECT_NE(started.find("not started, no members: node 1 (directories kept)"), std::string::npos) << started;
  EXPECT_EQ(alive_nodes(cluster), (std::set<uint32_t>{2, 3, 4, 5})) << "the removed node 1 runs";
  EXPECT_TRUE(std::filesystem::exists(cluster.data_root() / "node1" / "cluster-id"));

  for (int i = 0; i < kWrites; ++i) {
    const CommandResult get = cluster.kv({"get", fmt::format("k{}", i)});
    EXPECT_EQ(get.out, std::to_string(i) + "\n") << get.describe();
  }
  EXPECT_EQ(cluster.kv({"get", "after"}).out, "changes\n");
  EXPECT_EQ(cluster.kv({"put", "again", "1", "--timeout-ms", "10000"}).exit_code, 0);
  const CommandResult list = cluster.run("member", {"list"});
  expect_ok(list);
  EXPECT_NE(list.out.find("3 voters, 1 learners"), std::string::npos) << list.describe();
  EXPECT_EQ(list.out.find("\n1 "), std::string::npos) << "node 1 is no member:\n" << list.describe();
  // `status` lists the initial voters' slots, and says node 1 is no member rather than a member down.
  const CommandResult table = cluster.run("status", {"--once"});
  expect_ok(table);
  EXPECT_NE(table.out.find(", 1 removed"), std::string::npos) << table.describe();
  EXPECT_NE(table.out.find("\n   1       - removed "), std::string::npos) << table.describe();
  const CommandResult json = cluster.run("status", {"--once", "--json"});
  expect_ok(json);
  const nlohmann::json nodes = nlohmann::json::parse(json.out)["nodes"];
  for (const auto& node : nodes) {
    const bool removed = node["node"].get<uint32_t>() == 1;
    EXPECT_EQ(node["member"].get<bool>(), !removed) << node.dump();
    EXPECT_EQ(node["role"].get<std::string>() == "removed", removed) << node.dump();
  }
  stop_up_again(cluster, up_again, up_log);
}

// A voter whose directory is wiped while the cluster is down: the new segment holds no witness of its
// earlier starts, but `up` knows from the others' logs that it is a member, so it starts lost (no vote,
// no quorum) and is repaired, never a fresh voter with term 0 and an empty log (issue 14).
TEST(Membership, AMemberWipedWhileTheClusterWasDownStartsLost) {
  TestCluster cluster("wiped-while-down");
  cluster.wait_for_leader();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(cluster.kv({"put", fmt::format("k{}", i), "v"}).exit_code, 0);
  ASSERT_EQ(cluster.down().exit_code, 0);
  std::filesystem::remove_all(cluster.data_root() / "node3");

  const std::filesystem::path up_log = cluster.data_root() / "up-again.log";
  ScopedClusterFiles up_again = start_up_again(cluster, up_log);
  ASSERT_TRUE(eventually(
      [&] {
        return alive_nodes(cluster) == std::set<uint32_t>{1, 2, 3};
      },
      15s))
      << read_file(up_log);
  cluster.wait_for_leader();
  const std::filesystem::path node3_log = cluster.data_root() / "node3" / "node.log";
  ASSERT_TRUE(eventually([&] { return read_file(node3_log).find("lost state") != std::string::npos; }, 10s))
      << read_file(node3_log);
  EXPECT_TRUE(eventually([&] { return read_file(node3_log).find("repaired") != std::string::npos; }, 20s))
      << read_file(node3_log);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(cluster.kv({"get", fmt::format("k{}", i)}).out, "v\n");
  stop_up_again(cluster, up_again, up_log);
}

TEST(Membership, TransferHandsLeadershipToTheNamedVoter) {
  TestCluster cluster("transfer");
  const uint32_t leader = cluster.wait_for_leader();
  const uint32_t target = leader % cluster.nodes() + 1;
  const CommandResult moved = cluster.run("transfer", {std::to_string(target)});
  expect_ok(moved);
  EXPECT_NE(moved.out.find("node " + std::to_string(target) + " leads cluster"), std::string::npos)
      << moved.describe();
  EXPECT_EQ(announced_leader(cluster.name()), target);
  EXPECT_EQ(cluster.wait_for_leader(), target);

  const CommandResult again = cluster.run("transfer", {std::to_string(target)});
  expect_ok(again);
  EXPECT_NE(again.out.find("leads cluster '" + cluster.name() + "' already"), std::string::npos)
      << again.describe();

  const CommandResult to_no_voter = cluster.run("transfer", {"6"});
  EXPECT_EQ(to_no_voter.exit_code, 1) << to_no_voter.describe();
  EXPECT_NE(to_no_voter.err.find("cannot transfer leadership to node 6: node 6 cannot take part"),
            std::string::npos)
      << to_no_voter.describe();
}

TEST(Membership, RefusalsSayWhy) {
  TestCluster cluster("member-errors");
  cluster.wait_for_leader();
  const CommandResult existing = cluster.run("member", {"add", "2"});
  EXPECT_EQ(existing.exit_code, 1) << existing.describe();
  EXPECT_NE(existing.err.find("node 2 is a member of cluster '" + cluster.name() + "' already (a voter)"),
            std::string::npos)
      << existing.describe();

  const CommandResult outside = cluster.run("member", {"add", "8"});
  EXPECT_EQ(outside.exit_code, 2) << outside.describe();
  EXPECT_NE(outside.err.find("node id 8 out of range 1..7: cluster '" + cluster.name() + "' has room for 7"),
            std::string::npos)
      << outside.describe();

  const CommandResult not_member = cluster.run("member", {"remove", "6"});
  EXPECT_EQ(not_member.exit_code, 1) << not_member.describe();
  EXPECT_NE(not_member.err.find("node 6 is not a member"), std::string::npos) << not_member.describe();

  const CommandResult not_learner = cluster.run("member", {"promote", "3"});
  EXPECT_EQ(not_learner.exit_code, 1) << not_learner.describe();
  EXPECT_NE(not_learner.err.find("cannot promote node 3: node 3 is not a learner"), std::string::npos)
      << not_learner.describe();

  // Down to one voter; that one cannot go.
  for (const std::string node : {"1", "2"}) expect_ok(cluster.run("member", {"remove", node}));
  const CommandResult last = cluster.run("member", {"remove", "3"});
  EXPECT_EQ(last.exit_code, 1) << last.describe();
  EXPECT_NE(last.err.find("cannot remove node 3: node 3 is the last voter"), std::string::npos)
      << last.describe();
  for (const CommandResult& r : {existing, outside, not_member, not_learner, last})
    EXPECT_EQ(line_count(r.err), 1u) << r.describe();
}

TEST(Membership, ALearnerNeverCountsTowardAMajority) {
  TestCluster cluster("learner");
  cluster.wait_for_leader();
  expect_ok(cluster.run("member", {"add", "4"}));
  ASSERT_EQ(cluster.kv({"put", "before", "1"}).exit_code, 0);
  // One voter of three and the learner left: no majority, nothing commits.
  expect_ok(cluster.run("kill", {"1"}));
  expect_ok(cluster.run("kill", {"2"}));
  const CommandResult stuck = cluster.kv({"put", "during", "1", "--timeout-ms", "1500"});
  EXPECT_EQ(stuck.exit_code, 4) << "a write committed with one voter of three and a learner: "
                                << stuck.describe();
  // A second voter back: a majority again, and the write goes through.
  expect_ok(cluster.run("restart", {"1"}));
  const CommandResult unstuck = cluster.kv({"put", "after", "1", "--timeout-ms", "10000"});
  EXPECT_EQ(unstuck.exit_code, 0) << unstuck.describe();
}

// `shmraft partition` and `heal` reach a node added after the start (node ids above the initial
// voters): its links are cut, the other three voters keep committing, and healing restores them.
TEST(Membership, AJoinedNodeIsPartitionedAndHealedLikeTheOthers) {
  TestCluster cluster("member-partition");
  cluster.wait_for_leader();
  expect_ok(cluster.run("member", {"add", "4"}));
  expect_ok(cluster.run("member", {"promote", "4"}));
  expect_ok(cluster.run("partition", {"4"}));
  {
    ipc::Segment segment = ipc::Segment::attach(cluster.name());
    for (const uint32_t peer : {1u, 2u, 3u}) {
      EXPECT_FALSE(segment.link_fault(4, peer).get().connected) << "4 -> " << peer;
      EXPECT_FALSE(segment.link_fault(peer, 4).get().connected) << peer << " -> 4";
    }
    EXPECT_TRUE(segment.link_fault(1, 2).get().connected);
  }
  // Three of four voters: a majority without node 4.
  EXPECT_EQ(cluster.kv({"put", "cut", "1", "--timeout-ms", "10000"}).exit_code, 0);
  expect_ok(cluster.run("heal", {}));
  ipc::Segment segment = ipc::Segment::attach(cluster.name());
  for (const uint32_t peer : {1u, 2u, 3u}) {
    EXPECT_TRUE(segment.link_fault(4, peer).get().connected) << "4 -> " << peer;
    EXPECT_TRUE(segment.link_fault(peer, 4).get().connected) << peer << " -> 4";
  }
}

}  // namespace
}  // namespace shmraft::cluster_test
