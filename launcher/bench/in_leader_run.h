#pragma once
// `shmraft bench --in-leader` on the benchmark's side: the leader's process ran the load
// (in_leader_node.h); this waits for what it wrote and makes the run's report of it.
#include <string>

#include "bench/kit/bench_config.h"
#include "bench/kit/stop_flag.h"
#include "launcher/bench/bench_cluster.h"
#include "launcher/bench/bench_run.h"

namespace shmraft::bench {

// Waits for the InLeaderResult one of the nodes of `cluster` (started for `config`) writes, and fills
// `run` with it. Ctrl-C (`stop`) asks the nodes (SIGUSR1) to end the load early: what it measured so
// far is reported. A node exiting ends the wait (run.node_exits). Throws launcher::LauncherError when
// the run failed (leadership moved, a client thread failed) or no result came in time.
void collect_in_leader_run(const BenchConfig& config, BenchCluster& cluster, StopFlag& stop,
                           const RunSettings& settings, ConfigRun& run);

}  // namespace shmraft::bench
