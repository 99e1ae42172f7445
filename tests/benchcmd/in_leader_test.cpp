// `shmraft bench --in-leader` (issue 16 item 3) through the real binary: the load runs inside the
// leader's process and is reported as such (label, in-flight count, the client threads' CPU inside the
// node's), reads and writes apart; Ctrl-C still prints what was measured; leadership that moves during
// the run fails it with a clear line. (Refused combinations: BenchBadInput in bench_command_test.cpp.)
// No timing assertion: the host is shared.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "ipc/segment.h"
#include "tests/benchcmd/bench_checks.h"
#include "tests/benchcmd/bench_process.h"

namespace shmraft::benchcmd_test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;

// `args` with node flags making elections rare: a loaded shared host can starve the leader past the
// default 150-300 ms election timeout, and leadership that moves fails an in-leader run (tested below).
std::vector<std::string> with_steady_leader(std::vector<std::string> args) {
  args.insert(args.end(), {"--", "--election-ticks", "200"});  // 1-2 s
  return args;
}

// Waits until the bench says the load runs in the leader (its one progress line), at most 30 s.
bool await_in_leader_line(const BenchProcess& bench) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (bench.stderr_so_far().find("in-leader: the load runs") == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

// The name of the one cluster `bench` runs ("bench-<pid>-<n>"), from its segment in /dev/shm.
std::optional<std::string> cluster_of(const BenchProcess& bench) {
  const std::string prefix = "shmraft.bench-" + std::to_string(bench.pid()) + "-";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/dev/shm", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix)) return name.substr(std::string("shmraft.").size());
  }
  return std::nullopt;
}

TEST(BenchInLeader, RunsInsideTheLeaderAndSaysSo) {
  BenchProcess bench(with_steady_leader(quick({"--in-leader", "--json", "--no-floor", "--clients", "16",
                                               "--pipeline", "2", "--reads", "0.5", "--keys", "1000"})));
  const BenchOutput run = bench.wait();
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  const json j = parse_json(run);
  expect_sane_transport(j, "in-leader");
  EXPECT_TRUE(j["config"]["in_leader"].get<bool>());
  EXPECT_EQ(j["config"]["in_flight"], 32);
  EXPECT_EQ(j["failed_ops"], 0);
  const uint64_t reads = j["operations"]["reads"]["ops"], writes = j["operations"]["writes"]["ops"];
  EXPECT_GT(reads, 0u);
  EXPECT_GT(writes, 0u);
  EXPECT_EQ(reads + writes, j["ops"].get<uint64_t>());
  // The nodes' CPU was metered by the leader itself over the window, and holds its client threads'.
  ASSERT_TRUE(j.contains("cpu") && j.contains("client_cpu")) << run.out;
  const double client_s = j["client_cpu"]["user_s"].get<double>() + j["client_cpu"]["system_s"].get<double>();
  EXPECT_GT(client_s, 0);
  const int node = j["client_cpu"]["inside_node"];
  EXPECT_GE(node, 1);
  EXPECT_LE(node, 3);
  EXPECT_EQ(j["peak_rss_bytes"].size(), 3u);
  EXPECT_EQ(j["sleeps_per_op"].size(), 3u);
  EXPECT_TRUE(leftovers_of(bench).empty()) << testing::PrintToString(leftovers_of(bench));
}

TEST(BenchInLeader, TextReportLabelsTheLoadAndItsInFlightCount) {
  const BenchOutput run = run_bench(
      with_steady_leader(quick({"--in-leader", "--no-floor", "--clients", "4", "--pipeline", "4"})));
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  for (const char* text :
       {"4 clients × pipeline 4 (16 in flight, 1 client thread in-leader)", "16 operations in flight",
        "in-leader client threads (inside node ", "cpu (shm): nodes"}) {
    EXPECT_NE(run.out.find(text), std::string::npos) << "no '" << text << "' in\n" << run.out;
  }
}

TEST(BenchInLeader, SweepPointsAreLabelledInLeader) {
  const fs::path out = fs::temp_directory_path() / ("benchcmd-inleader-" + std::to_string(getpid()));
  fs::remove_all(out);
  BenchProcess bench({"--in-leader", "--sweep", "--sweep-nodes", "1", "--sweep-clients", "2",
                      "--sweep-payload", "64", "--sweep-fsync", "none", "--warmup", "0.1", "--duration",
                      "0.3", "--no-floor", "--progress", "0", "--out", out.string()});
  const BenchOutput run = bench.wait();
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  std::ifstream csv(out / "sweep.csv");
  std::vector<std::string> rows;
  for (std::string line; std::getline(csv, line);) rows.push_back(line);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0].ends_with(",in_leader")) << rows[0];
  EXPECT_TRUE(rows[1].ends_with(",true")) << rows[1];
  EXPECT_TRUE(leftovers_of(bench).empty());
  fs::remove_all(out);
}

TEST(BenchInLeader, CtrlCStopsTheLoadInTheLeaderAndPrintsWhatItMeasured) {
  BenchProcess bench(with_steady_leader(
      {"--in-leader", "--warmup", "0.2", "--duration", "60", "--json", "--no-floor", "--progress", "1"}));
  ASSERT_TRUE(await_in_leader_line(bench)) << bench.stderr_so_far();
  std::this_thread::sleep_for(milliseconds(1500));  // past the warm-up, into the measured window
  const json j = interrupt_and_expect_partial_report(bench);
  EXPECT_TRUE(j["config"]["in_leader"].get<bool>());
  EXPECT_TRUE(leftovers_of(bench).empty()) << testing::PrintToString(leftovers_of(bench));
}

// The leader stopped (SIGSTOP) longer than an election timeout: another node leads, the clients inside
// the old leader follow it, and the figures are no longer those of a load inside the leader.
TEST(BenchInLeader, LeadershipMovingDuringTheRunFailsItClearly) {
  BenchProcess bench({"--in-leader", "--warmup", "0.2", "--duration", "3", "--no-floor", "--progress", "1"});
  ASSERT_TRUE(await_in_leader_line(bench)) << bench.stderr_so_far();
  const std::optional<std::string> cluster = cluster_of(bench);
  ASSERT_TRUE(cluster) << "no segment of the bench's cluster";
  {
    const ipc::Segment segment = ipc::Segment::attach(*cluster);
    const std::optional<uint32_t> leader = segment.leader_record().read().leader;
    ASSERT_TRUE(leader);
    const auto pid = static_cast<pid_t>(segment.node_counters(*leader).snapshot().pid);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(milliseconds(500));
    ASSERT_EQ(kill(pid, SIGSTOP), 0);
    std::this_thread::sleep_for(milliseconds(1000));  // elections start after 150-300 ms of silence
    ASSERT_EQ(kill(pid, SIGCONT), 0);
  }
  const BenchOutput run = bench.wait(std::chrono::seconds(60));
  EXPECT_EQ(run.exit_code, 1) << run.describe();
  EXPECT_NE(run.err.find("leadership moved during the in-leader run"), std::string::npos) << run.describe();
  EXPECT_TRUE(run.out.empty()) << run.describe();
  EXPECT_TRUE(leftovers_of(bench).empty()) << testing::PrintToString(leftovers_of(bench));
}

}  // namespace
}  // namespace shmraft::benchcmd_test
