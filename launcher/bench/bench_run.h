#pragma once
// One configuration measured end to end: a throwaway cluster started, driven by the client threads (in
// this process, or under config.in_leader inside the leader's: in_leader_run.h) for warm-up + measured
// window, its nodes' CPU metered over exactly the measured window and their peak
// memory read before they stop, then everything removed.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/kit/bench_config.h"
#include "bench/kit/failover_report.h"
#include "bench/kit/report.h"
#include "bench/kit/run_loop.h"
#include "bench/kit/stop_flag.h"
#include "ipc/wait.h"
#include "launcher/bench/bench_cluster.h"
#include "launcher/bench/failover_options.h"

namespace shmraft::bench {

struct ConfigRun {
  TransportResult result;  // node_cpu / node_peak_rss_bytes empty when a node was gone
  // The client side over the measured window: this process (the client threads), or under --in-leader
  // the load's client threads inside the leader (whose node CPU includes them).
  std::optional<CpuUsage> client_cpu;
  uint32_t load_node = 0;               // --in-leader: the node whose process ran the load
  uint64_t failed_ops = 0;              // measured window: unknown or rejected outcomes
  uint64_t resent_ops = 0;              // measured window: operations sent more than once
  std::vector<std::string> node_exits;  // nodes that exited on their own during the run
  uint64_t segment_bytes = 0;
  bool started = false;                    // false: interrupted before the cluster had a leader
  std::optional<FailoverResult> failover;  // RunSettings::failover
};

struct RunSettings {
  ClusterSpec cluster;
  std::chrono::nanoseconds progress_interval{std::chrono::seconds(1)};  // 0: no progress lines
  std::string progress_prefix;                                          // e.g. "[tcp] "
  std::chrono::nanoseconds spin = ipc::kDefaultSpinTime;                // adaptive: nodes and clients
  const FailoverSpec* failover = nullptr;  // the measured window is these fail-over events; not owned
};

ConfigRun run_config(const BenchConfig& config, const RunSettings& settings, StopFlag& stop);

}  // namespace shmraft::bench
