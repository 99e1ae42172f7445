#include "launcher/bench/bench_run.h"

#include <fmt/format.h>
#include <unistd.h>

#include "bench/kit/resources.h"
#include "ipc/clock.h"
#include "launcher/bench/bench_options.h"
#include "launcher/bench/client_load.h"
#include "launcher/bench/failover_driver.h"

namespace shmraft::bench {

namespace {

RunLoop::ProgressSink progress_sink(const RunSettings& settings) {
  if (settings.progress_interval.count() == 0) return {};
  return [prefix = settings.progress_prefix](const Progress& p) {
    fmt::print(stderr, "{}{}\n", prefix, format_progress(p));
  };
}

}  // namespace

ConfigRun run_config(const BenchConfig& config, const RunSettings& settings, StopFlag& stop) {
  ConfigRun run;
  run.result.transport = config.transport;
  run.result.run.interrupted = true;  // until the load says otherwise
  ipc::SegmentConfig segment = segment_config_for(config);
  if (settings.failover != nullptr && settings.failover->reconfigures()) {
    segment.client_slots += 1;  // the admin client that asks for the changes
    segment.max_nodes = std::max(ipc::kDefaultMaxNodes, config.nodes + 1);  // room for the node to add
  }
  const std::unique_ptr<BenchCluster> cluster = BenchCluster::start(config, segment, settings.cluster, stop);
  if (!cluster) return run;
  run.started = true;
  run.segment_bytes = cluster->segment_bytes();

  const std::vector<pid_t> nodes = cluster->node_pids();
  CpuMeter node_meter(nodes);
  CpuMeter client_meter({getpid()});
  std::vector<uint64_t> sleeps_at_start;
  bool metering = false;
  std::optional<FailoverDriver> failover;
  if (settings.failover)
    failover.emplace(*settings.failover, config, *cluster, stop, settings.progress_prefix);
  LoadSpec load_spec{settings.progress_interval,
                     progress_sink(settings),
                     settings.spin,
                     {},
                     {},
                     failover ? &failover->observer() : nullptr};
  load_spec.window_started = [&] {
    try {
      const uint64_t now = ipc::monotonic_ns();
      node_meter.start(now);
      client_meter.start(now);
      sleeps_at_start = cluster->node_sleeps();
      metering = true;
    } catch (const std::runtime_error&) {
      // A node is gone already (take_exited_nodes() reports it); no CPU figure for this run.
    }
    if (failover) failover->run();  // the measured window: its end ends the load
  };
  load_spec.window_ended = [&] {
    if (!metering) return;
    try {
      const uint64_t now = ipc::monotonic_ns();
      run.result.node_cpu = node_meter.stop(now);
      run.client_cpu = client_meter.stop(now);
      for (const pid_t pid : nodes) run.result.node_peak_rss_bytes.push_back(read_peak_rss_bytes(pid));
      const std::vector<uint64_t> sleeps = cluster->node_sleeps();
      for (std::size_t node = 0; node < sleeps.size(); ++node) {
        if (sleeps[node] < sleeps_at_start[node]) {  // the node restarted: its counter began again
          run.result.node_sleeps.clear();
          break;
        }
        run.result.node_sleeps.push_back(sleeps[node] - sleeps_at_start[node]);
      }
    } catch (const std::runtime_error&) {
      run.result.node_cpu.reset();
      run.result.node_peak_rss_bytes.clear();
    }
  };
  LoadResult load = run_client_load(cluster->name(), config, stop, load_spec);
  run.result.run = std::move(load.run);
  run.result.phases = std::move(load.phases);
  run.result.operations = std::move(load.operations);
  run.failed_ops = load.failed_ops;
  run.node_exits = cluster->take_exited_nodes();
  if (failover) {
    run.failover = failover->finish();
    run.result.run.interrupted = run.failover->interrupted;
  }
  return run;
}

}  // namespace shmraft::bench
