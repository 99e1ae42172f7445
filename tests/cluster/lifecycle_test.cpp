// The cluster's life cycle through the real `shmraft` binary: first leader, `down`, Ctrl-C, a SIGKILLed
// supervisor (no orphans, `clean`), restart on crash, a restart's CPU of its own, data surviving down + up;
// and how the launcher reads /proc about processes that may be exiting.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher/child_process.h"
#include "launcher/cluster_dirs.h"
#include "tests/cluster/harness.h"
#include "tests/cpu_sets.h"

namespace shmraft::cluster_test {
namespace {

using namespace std::chrono_literals;

// The launcher asks /proc about processes that may be exiting at that very moment (`kill`, `status`):
// a zombie counts as gone, and a process gone before or while its file is read reads as "".
TEST(ProcessFiles, AZombieIsGoneAndAReapedProcessReadsAsEmpty) {
  EXPECT_FALSE(launcher::read_proc_file(getpid(), "stat").empty());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (launcher::process_exists(child) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(launcher::process_exists(child)) << "an exited, unreaped child is a zombie: gone";
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(launcher::read_proc_file(child, "cmdline"), "");
  EXPECT_FALSE(launcher::process_exists(child));
}

TEST(Lifecycle, FirstLeaderWithinBound) {
  TestCluster cluster("first-leader");
  // Election timeouts are 150-300 ms; process start, storage creation and one PreVote + vote round
  // come on top. Two seconds is generous on a loaded 2-core machine and still catches a stuck election
  // (scaled in a sanitizer build, where every process starts several times slower).
  const uint32_t leader = cluster.wait_for_leader(2000ms);
  const auto took = std::chrono::steady_clock::now() - cluster.started_at();
  EXPECT_LT(took, scaled(2s));
  EXPECT_GE(leader, 1u) << "node ids are 1..N";
  EXPECT_LE(leader, cluster.nodes());
  std::cout << "first leader: node " << leader << " after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  // Exactly one leader, and every node agrees on it.
  int leaders = 0;
  for (const auto& node : cluster.status_nodes()) leaders += node["role"] == "leader";
  EXPECT_EQ(leaders, 1);
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& node : cluster.status_nodes()) {
          if (node["leader"] != leader) return false;
        }
        return true;
      },
      2000ms));
}

TEST(Lifecycle, DownStopsEveryNodeAndRemovesTheSegment) {
  TestCluster cluster("down");
  cluster.wait_for_leader();
  const std::vector<pid_t> pids = cluster.node_pids();
  const CommandResult down = cluster.down();
  ASSERT_EQ(down.exit_code, 0) << down.describe();
  EXPECT_FALSE(segment_exists(cluster.name()));
  for (pid_t pid : pids) EXPECT_FALSE(process_alive(pid)) << "node pid " << pid << " outlived `down`";
  const std::string output = cluster.supervisor_output();
  EXPECT_NE(output.find("segment removed"), std::string::npos) << output;
  EXPECT_NE(output.find("leader: node"), std::string::npos) << output;  // `up` reports who leads
  const CommandResult again = cluster.run("status", {"--once"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("no cluster"), std::string::npos) << again.describe();
}

TEST(Lifecycle, CtrlCStopsEverythingAndExitsZero) {
  TestCluster cluster("ctrl-c");
  cluster.wait_for_leader();
  const std::vector<pid_t> pids = cluster.node_pids();
  ASSERT_EQ(::kill(cluster.supervisor_pid(), SIGINT), 0);
  const auto status = launcher::wait_for_exit(cluster.supervisor_pid(), 10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 0);
  EXPECT_EQ(status->signal, 0);
  EXPECT_FALSE(segment_exists(cluster.name()));
  for (pid_t pid : pids) EXPECT_FALSE(process_alive(pid));
}

TEST(Lifecycle, SigkilledSupervisorLeavesNoOrphansAndCleanRemovesTheRest) {
  TestCluster cluster("sigkill-up");
  cluster.wait_for_leader();
  const std::vector<pid_t> pids = cluster.node_pids();
  ASSERT_EQ(::kill(cluster.supervisor_pid(), SIGKILL), 0);
  launcher::wait_for_exit(cluster.supervisor_pid(), 10s);
  // PR_SET_PDEATHSIG: the kernel kills the nodes with their parent.
  EXPECT_TRUE(eventually(
      [&] {
        for (pid_t pid : pids) {
          if (process_alive(pid)) return false;
        }
        return true;
      },
      5000ms));
  ASSERT_TRUE(segment_exists(cluster.name()));
  const CommandResult kv = cluster.kv({"get", "k"});
  EXPECT_EQ(kv.exit_code, 1) << kv.describe();
  EXPECT_EQ(line_count(kv.err), 1u) << kv.describe();
  // The orphaned nodes may linger as zombies until init reaps them; clean waits for nothing, so retry.
  EXPECT_TRUE(eventually(
      [&] {
        run_shmraft({"clean", "-c", cluster.name(), "-d", cluster.data_root().string()});
        return !segment_exists(cluster.name());
      },
      10000ms));
  EXPECT_FALSE(std::filesystem::exists(cluster.data_root() / "node1"));
}

TEST(Lifecycle, RestartOnCrashBringsAKilledNodeBack) {
  TestCluster cluster("restart-on-crash", {.nodes = 3, .up_args = {"--restart-on-crash"}, .node_args = {}});
  cluster.wait_for_leader();
  const pid_t before = cluster.node_pid(2);
  const CommandResult kill = cluster.run("kill", {"2"});
  ASSERT_EQ(kill.exit_code, 0) << kill.describe();
  EXPECT_TRUE(eventually(
      [&] {
        const pid_t now = cluster.node_pid(2);
        return now != 0 && now != before;
      },
      5000ms))
      << cluster.supervisor_output();
}

TEST(Lifecycle, RestartCommandStartsAStoppedNode) {
  TestCluster cluster("restart");
  cluster.wait_for_leader();
  ASSERT_EQ(cluster.run("kill", {"1"}).exit_code, 0);
  EXPECT_EQ(cluster.node_pid(1), 0);
  const CommandResult restart = cluster.run("restart", {"1"});
  ASSERT_EQ(restart.exit_code, 0) << restart.describe();
  EXPECT_NE(cluster.node_pid(1), 0);
  cluster.wait_for_catch_up();
}

// Every thread of every node process may run where `cpus` says.
void expect_every_node_thread_on(const TestCluster& cluster, const cpu_set_t& cpus) {
  for (const pid_t pid : cluster.node_pids()) {
    ASSERT_NE(pid, 0);
    std::error_code error;
    for (const auto& task :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
      const pid_t thread = std::stoi(task.path().filename().string());
      cpu_set_t on;
      CPU_ZERO(&on);
      if (sched_getaffinity(thread, sizeof(on), &on) != 0) {
        EXPECT_EQ(errno, ESRCH) << "thread " << thread;  // it ended since the listing: nothing to check
        continue;
      }
      EXPECT_TRUE(testing::same(on, cpus)) << "thread " << thread << " of node pid " << pid;
    }
    EXPECT_FALSE(error) << "node pid " << pid << ": " << error.message();
  }
}

// `up` starts a node beside running ones on a CPU of its own (launcher/start_isolation.h) until it serves,
// then gives every thread back the CPUs it had; `--restart-cpu shared` leaves the scheduler alone.
TEST(Lifecycle, ARestartHasACpuOfItsOwnUntilItServesUnlessShared) {
  const cpu_set_t had = testing::cpus_of(0);
  if (CPU_COUNT(&had) < 2) GTEST_SKIP() << "needs two CPUs to isolate one (this process has one)";
  const int last = testing::last_cpu(had);
  for (const bool isolated : {true, false}) {
    SCOPED_TRACE(isolated ? "isolated" : "shared");
    TestCluster cluster(
        "restart-cpu",
        {.nodes = 3, .up_args = {"--restart-cpu", isolated ? "isolated" : "shared"}, .node_args = {}});
    cluster.wait_for_leader();
    ASSERT_EQ(cluster.run("kill", {"2"}).exit_code, 0);
    const CommandResult restart = cluster.run("restart", {"2"});
    ASSERT_EQ(restart.exit_code, 0) << restart.describe();
    const std::string own_cpu = ", on CPU " + std::to_string(last) + " of its own until it serves";
    if (isolated) {
      ASSERT_TRUE(eventually(
          [&] { return cluster.supervisor_output().find("node 2: serves after ") != std::string::npos; },
          5000ms))
          << cluster.supervisor_output();
      EXPECT_NE(cluster.supervisor_output().find(own_cpu), std::string::npos) << cluster.supervisor_output();
    } else {
      cluster.wait_for_catch_up();
      EXPECT_EQ(cluster.supervisor_output().find("of its own"), std::string::npos)
          << cluster.supervisor_output();
      EXPECT_EQ(cluster.supervisor_output().find("serves after"), std::string::npos);
    }
    expect_every_node_thread_on(cluster, had);
  }
}

TEST(Lifecycle, DataSurvivesDownAndUpInTheDefaultRoot) {
  const std::string name = unique_cluster_name("down-up");
  const std::string root = launcher::ClusterDirs(name, {}).root().string();  // the per-user default
  ScopedClusterFiles cleanup{name, root};
  for (int round = 0; round < 2; ++round) {
    cleanup.process = launcher::spawn_child({SHMRAFT_BINARY, "up", "-c", name}, root + ".log");
    const int found_or_not = round == 0 ? 5 : 0;  // kv's exit code for a key that holds no value: 5
    ASSERT_TRUE(eventually(
        [&] {
          return run_shmraft({"kv", "-c", name, "get", "x"}).exit_code == found_or_not;
        },
        10000ms));
    const CommandResult get = run_shmraft({"kv", "-c", name, "get", "x"});
    EXPECT_EQ(get.out, round == 0 ? "" : "kept\n");
    EXPECT_TRUE(std::filesystem::exists(root + "/node1/cluster-id")) << "not in the default root " << root;
    if (round == 0) {
      ASSERT_EQ(run_shmraft({"kv", "-c", name, "put", "x", "kept"}).exit_code, 0);
    }
    ASSERT_EQ(run_shmraft({"down", "-c", name}).exit_code, 0);
    launcher::wait_for_exit(cleanup.process, 10s);
    cleanup.process = 0;
  }
}

}  // namespace
}  // namespace shmraft::cluster_test
