#include "launcher/bench/in_leader_run.h"

#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <optional>
#include <thread>

#include "launcher/bench/in_leader_result.h"
#include "launcher/bench/node_window.h"
#include "launcher/launcher_error.h"
#include "launcher/status_table.h"

namespace shmraft::bench {

namespace {

using Clock = std::chrono::steady_clock;

// Beyond warm-up and measured window: the clients attaching (run_client_load allows them 30 s) and the
// result being written.
constexpr std::chrono::seconds kResultSlack{60};
constexpr std::chrono::milliseconds kPoll{5};

std::optional<InLeaderResult> read_any_result(const BenchConfig& config, const BenchCluster& cluster) {
  for (uint32_t node = 1; node <= config.nodes; ++node) {
    if (auto result = read_in_leader_result(in_leader_result_file(cluster.node_dir(node)))) return result;
  }
  return std::nullopt;
}

void ask_nodes_to_stop_the_load(BenchCluster& cluster) {
  for (const pid_t pid : cluster.node_pids()) {
    if (pid == 0) continue;
    try {
      cluster.signal_node(pid, SIGUSR1);
    } catch (const launcher::LauncherError&) {
      // That node has just exited: take_exited_nodes() reports it.
    }
  }
}

}  // namespace

void collect_in_leader_run(const BenchConfig& config, BenchCluster& cluster, StopFlag& stop,
                           const RunSettings& settings, ConfigRun& run) {
  const Clock::time_point deadline = Clock::now() + config.warmup + config.measure + kResultSlack;
  if (settings.progress_interval.count() > 0) {
    const auto leader = launcher::current_leader(cluster.segment());
    fmt::print(stderr,
               "{}in-leader: the load runs inside the leader's process{}; no progress lines until it ends\n",
               settings.progress_prefix, leader ? fmt::format(" (node {})", leader->node) : "");
  }
  bool asked_to_stop = false;
  std::optional<InLeaderResult> result;
  while (!(result = read_any_result(config, cluster))) {
    run.node_exits = cluster.take_exited_nodes();
    if (!run.node_exits.empty()) return;
    if (stop.requested() && !asked_to_stop) {
      ask_nodes_to_stop_the_load(cluster);
      asked_to_stop = true;
    }
    if (Clock::now() > deadline)
      throw launcher::LauncherError(fmt::format(
          "no node reported the in-leader load within {} s",
          std::chrono::duration_cast<std::chrono::seconds>(config.warmup + config.measure + kResultSlack)
              .count()));
    std::this_thread::sleep_for(kPoll);
  }
  if (!result->error.empty()) throw launcher::LauncherError(result->error);

  LoadResult& load = result->load;
  run.load_node = result->node;
  run.result.run = std::move(load.run);
  run.result.phases = std::move(load.phases);
  run.result.operations = std::move(load.operations);
  run.failed_ops = load.failed_ops;
  run.resent_ops = load.resent_ops;
  run.result.node_cpu = std::move(result->node_cpu);
  run.result.node_sleeps = std::move(result->node_sleeps);
  run.client_cpu = CpuUsage{{}, load.client_thread_cpu, run.result.run.duration_s};
  run.result.node_peak_rss_bytes = node_peak_rss(cluster.node_pids());
  run.node_exits = cluster.take_exited_nodes();
}

}  // namespace shmraft::bench
