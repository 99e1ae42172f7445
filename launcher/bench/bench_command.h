#pragma once
// `shmraft bench`: start a cluster, drive load, report commit latency and throughput beside the
// shared-memory floor, stop it (DESIGN §4, §5; issue 6).
//
//   shmraft bench                                  3 nodes, 1 client, 64 B, 2 s + 10 s, fsync none
//   shmraft bench --clients 64 --pipeline 16       closed loop, 1024 operations in flight
//   shmraft bench --rate 1000                      open loop; reports the nodes' cores at 1 K ops/s
//   shmraft bench --compare --json                 shm, then loopback TCP, and the ratios
//   shmraft bench --in-leader --clients 64         the load inside the leader's process (as NuRaft's bench)
//   shmraft bench --sweep --warmup 0.5 --duration 2 --out results/
//   shmraft bench --failover --kills 20           SIGKILL the leader 20 times: detection, election, window
//   shmraft bench --reconfigure add                start, add and promote a node 10 times: the latency spike
//
// Exit codes: 0 measured; 1 an error (one line on stderr) or a node died during the run; 2 options refused
// before anything started (one line); 130 interrupted
// (Ctrl-C: the report of what was measured so far is still printed, and nothing is left behind).
#include <CLI/CLI.hpp>

#include "launcher/bench/bench_options.h"
#include "launcher/commands/command.h"

namespace shmraft::launcher {

void add_bench_command(CLI::App& root, CommandList& commands);

}  // namespace shmraft::launcher

namespace shmraft::bench {

// Runs what `options` asks for; returns the exit code. Throws launcher::UsageError (bad options, found
// before anything starts) or launcher::LauncherError (the cluster could not run).
int run_bench(const BenchOptions& options);

}  // namespace shmraft::bench
