// Bad input through the real command line: each is refused with ONE clear line on stderr and a non-zero
// exit, and a cluster that is running meanwhile is not disturbed.
#include <gtest/gtest.h>
#include <signal.h>

#include "launcher/child_process.h"
#include "tests/cluster/harness.h"

namespace shmraft::cluster_test {
namespace {

using namespace std::chrono_literals;

// One line on stderr that contains `needle`, and the exit code `code`.
void expect_refused(const CommandResult& r, int code, const std::string& needle) {
  EXPECT_EQ(r.exit_code, code) << r.describe();
  EXPECT_EQ(line_count(r.err), 1u) << r.describe();
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << r.describe();
}

// What "undisturbed" means: the same node processes, the same leader and term, and a write still commits.
struct Snapshot {
  std::vector<pid_t> pids;
  std::optional<uint32_t> leader;
  uint64_t term = 0;
};

Snapshot take(const TestCluster& cluster) {
  return {cluster.node_pids(), cluster.leader(), cluster.max_term()};
}

void expect_undisturbed(const TestCluster& cluster, const Snapshot& before) {
  const Snapshot after = take(cluster);
  EXPECT_EQ(after.pids, before.pids);
  EXPECT_EQ(after.leader, before.leader);
  EXPECT_EQ(after.term, before.term);
  const CommandResult put = cluster.kv({"put", "still", "works"});
  EXPECT_EQ(put.exit_code, 0) << put.describe();
}

TEST(BadInput, CommandsAgainstAClusterThatIsNotRunning) {
  const std::string name = unique_cluster_name("absent");
  expect_refused(run_shmraft({"kv", "-c", name, "get", "k"}), 1, "no cluster '" + name + "' is running");
  expect_refused(run_shmraft({"kv", "-c", name, "put", "k", "v"}), 1, "no cluster");
  expect_refused(run_shmraft({"status", "-c", name, "--once"}), 1, "no cluster");
  expect_refused(run_shmraft({"down", "-c", name}), 1, "no cluster");
  expect_refused(run_shmraft({"kill", "-c", name, "1"}), 1, "no cluster");
  expect_refused(run_shmraft({"restart", "-c", name, "1"}), 1, "no cluster");
  expect_refused(run_shmraft({"partition", "-c", name, "1"}), 1, "no cluster");
  expect_refused(run_shmraft({"heal", "-c", name}), 1, "no cluster");
  EXPECT_FALSE(segment_exists(name));
}

TEST(BadInput, AnUnknownNodeIdIsRefusedAndNothingIsDisturbed) {
  TestCluster cluster("unknown-node");
  cluster.wait_for_leader();
  const Snapshot before = take(cluster);
  expect_refused(cluster.run("kill", {"4"}), 2,
                 "node id 4 out of range 1..3: cluster '" + cluster.name() + "' has 3 nodes");
  expect_refused(cluster.run("restart", {"7"}), 2, "node id 7 out of range 1..3");
  expect_refused(cluster.run("partition", {"1", "5"}), 2, "node id 5 out of range 1..3");
  expect_refused(cluster.run("kill", {"0"}), 2, "node id '0' out of range 1..N");
  expect_refused(cluster.run("kill", {"-1"}), 2, "node id '-1' out of range 1..N");
  expect_refused(cluster.run("kill", {"one"}), 2, "node");
  expect_undisturbed(cluster, before);
}

TEST(BadInput, ADataDirectoryOfAnotherClusterIsRefused) {
  TestCluster owner("data-owner");
  owner.wait_for_leader();
  const Snapshot before = take(owner);
  const std::string intruder = unique_cluster_name("intruder");
  const CommandResult up = run_shmraft({"up", "-c", intruder, "--data-dir", owner.data_root().string()});
  expect_refused(up, 1, "a node directory of cluster '" + owner.name() + "'");
  EXPECT_FALSE(segment_exists(intruder));
  expect_undisturbed(owner, before);
  // Also once the owner is down: the stamp, not the running cluster, is what protects the data.
  ASSERT_EQ(owner.down().exit_code, 0);
  expect_refused(run_shmraft({"up", "-c", intruder, "--data-dir", owner.data_root().string()}), 1,
                 "a node directory of cluster '" + owner.name() + "'");
  expect_refused(
      run_shmraft({"chaos", "-c", intruder, "--data-dir", owner.data_root().string(), "--duration", "1"}), 1,
      "exists");
  EXPECT_FALSE(segment_exists(intruder));
}

TEST(BadInput, ASegmentOfAnotherClusterWithTheSameNameIsRefused) {
  TestCluster running("same-name");
  running.wait_for_leader();
  const Snapshot before = take(running);
  const std::filesystem::path other_data = running.data_root().string() + "-other";
  ScopedClusterFiles cleanup{"", other_data};
  // Another cluster (other data, so another id) under the same name while the first one runs.
  expect_refused(run_shmraft({"up", "-c", running.name(), "--data-dir", other_data.string()}), 1,
                 "belongs to another running cluster");
  // The same cluster twice.
  expect_refused(run_shmraft({"up", "-c", running.name(), "--data-dir", running.data_root().string()}), 1,
                 "is already running");
  EXPECT_FALSE(std::filesystem::exists(other_data));
  expect_undisturbed(running, before);

  // A stale segment (its supervisor was SIGKILLed) of that cluster: another cluster may not take the
  // name over, the cluster itself may (it replaces its own stale segment).
  ASSERT_EQ(::kill(running.supervisor_pid(), SIGKILL), 0);
  launcher::wait_for_exit(running.supervisor_pid(), 10s);
  ASSERT_TRUE(segment_exists(running.name()));
  CommandResult other;
  ASSERT_TRUE(eventually(
      [&] {  // until the dead nodes are reaped, the segment may still count as live
        other = run_shmraft({"up", "-c", running.name(), "--data-dir", other_data.string()});
        return other.err.find("stale segment") != std::string::npos;
      },
      10000ms))
      << other.describe();
  expect_refused(other, 1, "of another cluster");
  cleanup.process = launcher::spawn_child(
      {SHMRAFT_BINARY, "up", "-c", running.name(), "--data-dir", running.data_root().string()},
      running.data_root() / "again.log");
  EXPECT_TRUE(eventually(
      [&] {
        return run_shmraft({"kv", "-c", running.name(), "get", "still"}).out == "works\n";
      },
      10000ms));
  launcher::stop_child(cleanup.process, 10s);
  cleanup.process = 0;
  EXPECT_FALSE(segment_exists(running.name()));
}

TEST(BadInput, RestartIsRefusedForAClusterThatChaosRuns) {
  const std::string name = unique_cluster_name("chaos-owned");
  const std::string root = "/tmp/shmraft/" + name;
  ScopedClusterFiles cleanup{name, root};
  const pid_t chaos = launcher::spawn_child(
      {SHMRAFT_BINARY, "chaos", "-c", name, "--data-dir", root, "--duration", "3", "--kill-interval", "0"},
      root + ".log");
  cleanup.process = chaos;
  ASSERT_TRUE(eventually(
      [&] {
        return run_shmraft({"status", "-c", name, "--once"}).exit_code == 0;
      },
      10000ms));
  expect_refused(run_shmraft({"restart", "-c", name, "1"}), 1, "run by `shmraft chaos`");
  const auto status = launcher::wait_for_exit(chaos, 60s);
  ASSERT_TRUE(status.has_value());
  cleanup.process = 0;
  EXPECT_EQ(status->describe(), "exit 0") << "chaos was disturbed; its output:\n" << read_file(root + ".log");
}

TEST(BadInput, InvalidFlagValuesAreRefusedBeforeAnythingStarts) {
  const std::string name = unique_cluster_name("flags");
  const std::vector<std::vector<std::string>> commands{
      {"up", "-c", name, "--nodes", "0"},
      {"up", "-c", name, "--nodes", "17"},
      {"up", "-c", name, "--client-slots", "0"},
      {"up", "-c", name, "--peer-ring", "1000"},
      {"up", "-c", name, "--client-ring", "12"},
      {"up", "-c", "bad name!"},
      {"up", "-c", name, "--no-such-flag"},
      {"kv", "-c", name, "--timeout-ms", "0", "get", "k"},
      {"kv", "-c", name, "put", "k"},
      {"kv", "-c", name, "frobnicate", "k"},
      {"status", "-c", name, "--interval-ms", "1"},
      {"partition", "-c", name, "--drop-rate", "2", "1"},
      {"partition", "-c", name},
      {"chaos", "-c", name, "--clients", "0"},
      {"chaos", "-c", name, "--unreliable", "1.5"},
      {"chaos", "-c", name, "--duration", "-3"},
      {"chaos", "-c", name, "--leader-bias", "2"},
      {"clean", "-c", "a/b"},
  };
  for (const auto& args : commands) {
    const CommandResult r = run_shmraft(args);
    std::string joined;
    for (const auto& arg : args) joined += arg + " ";
    EXPECT_EQ(r.exit_code, 2) << joined << "\n" << r.describe();
    EXPECT_EQ(line_count(r.err), 1u) << joined << "\n" << r.describe();
  }
  // Node flags are checked with the node's own definitions before any process starts.
  expect_refused(run_shmraft({"up", "-c", name, "--", "--tick-us", "5"}), 2, "--tick-us");
  expect_refused(run_shmraft({"up", "-c", name, "--", "--heartbeat-ticks", "50"}), 2, "--heartbeat-ticks");
  expect_refused(run_shmraft({"up", "-c", name, "--", "--node", "1"}), 2, "set by the launcher");
  EXPECT_FALSE(segment_exists(name));
  EXPECT_FALSE(std::filesystem::exists("/tmp/shmraft/" + name));
}

}  // namespace
}  // namespace shmraft::cluster_test
