#include "launcher/bench/bench_run.h"

#include <fmt/format.h>
#include <unistd.h>

#include "bench/kit/resources.h"
#include "ipc/clock.h"
#include "launcher/bench/bench_options.h"
#include "launcher/bench/client_load.h"
#include "launcher/bench/failover_driver.h"
#include "launcher/bench/in_leader_run.h"
#include "launcher/bench/node_window.h"

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

  if (config.in_leader) {
    collect_in_leader_run(config, *cluster, stop, settings, run);
    return run;
  }
  const std::vector<pid_t> nodes = cluster->node_pids();
  NodeWindowMeter node_meter(cluster->segment(), nodes);
  CpuMeter client_meter({getpid()});
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
    const uint64_t now = ipc::monotonic_ns();
    node_meter.start(now);
    client_meter.start(now);
    if (failover) failover->run();  // the measured window: its end ends the load
  };
  load_spec.window_ended = [&] {
    const uint64_t now = ipc::monotonic_ns();
    NodeWindow window = node_meter.stop(now);
    run.client_cpu = client_meter.stop(now);
    run.result.node_sleeps = std::move(window.sleeps);
    run.result.elections = window.elections;
    run.result.node_cpu = std::move(window.cpu);
    if (run.result.node_cpu) run.result.node_peak_rss_bytes = node_peak_rss(nodes);
    if (run.result.node_peak_rss_bytes.empty()) run.result.node_cpu.reset();  // a node is gone meanwhile
  };
  LoadResult load = run_client_load(cluster->name(), config, stop, load_spec);
  run.result.run = std::move(load.run);
  run.result.phases = std::move(load.phases);
  run.result.operations = std::move(load.operations);
  run.failed_ops = load.failed_ops;
  run.resent_ops = load.resent_ops;
  run.node_exits = cluster->take_exited_nodes();
  if (failover) {
    run.failover = failover->finish();
    run.result.run.interrupted = run.failover->interrupted;
  }
  return run;
}

}  // namespace shmraft::bench
