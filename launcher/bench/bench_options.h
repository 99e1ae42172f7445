#pragma once
// What `shmraft bench` is asked to do, the flags that fill it in, and the checks that run before anything
// starts (bench::validate from the kit, plus what only the command knows: segment size, sweep lists).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/kit/bench_config.h"
#include "bench/kit/sweep.h"
#include "ipc/layout.h"
#include "ipc/wait.h"
#include "launcher/bench/failover_options.h"

namespace shmraft::bench {

struct BenchOptions {
  BenchConfig config;  // one run, or the base of a sweep
  bool compare = false;
  bool json = false;
  double progress_interval_s = 1;  // 0: no progress lines
  uint32_t spin_us =
      ipc::kDefaultSpinUs;  // adaptive waiting of nodes, clients and floor: spin before sleeping

  bool floor = true;  // measure the 2- and 3-process floors before the cluster starts
  uint64_t floor_rounds = 20'000;

  FailoverSpec failover;
  bool duration_given = false;  // --duration was on the command line
  bool keys_given = false;      // --keys was on the command line (0 is then an empty key space)
  bool key_dist_given = false;

  bool sweep = false;
  SweepGrid grid;
  std::filesystem::path out_dir = "bench-out";

  std::string attach_to;  // --cluster: drive this running cluster instead of starting one
  std::filesystem::path
      data_dir;  // root of the throwaway clusters' data; empty: launcher::default_data_base()
  bool keep_data = false;
  std::vector<std::string> node_args;  // after `--`, for every node
};

// Registers every flag above on `app`.
void add_bench_flags(CLI::App& app, BenchOptions& options);

// The configurations this invocation runs, in order: one, {shm, tcp} under --compare, or the sweep grid;
// each with its client threads chosen (default_client_threads unless --client-threads).
std::vector<BenchConfig> planned_configs(const BenchOptions& options);

// Without --client-threads: over shm one event loop per 4 cores (1 on a 2-core host), at most one per
// client — a loop drives thousands of clients, and every core it does not take is left to the nodes
// that the benchmark measures; over tcp one thread per client (its sockets cannot share a loop's bell).
uint32_t default_client_threads(const BenchConfig& config);

// The segment a configuration runs on: one client slot per client, client rings just large enough for
// the pipeline's requests (4 096 clients on 32 KiB rings would need 768 MiB), everything else ipc's
// defaults.
ipc::SegmentConfig segment_config_for(const BenchConfig& config);

// The kit's limits for this build: up to ipc::kMaxNodes nodes, kMaxClients clients, payloads a client
// ring frame of ipc's default size can carry.
BenchLimits bench_limits();
inline constexpr uint32_t kMaxClients = ipc::kMaxClientSlots;
// A benchmark that needs a bigger segment than this is refused (it would eat /dev/shm).
inline constexpr uint64_t kMaxSegmentBytes = uint64_t{2} << 30;

// Throws std::invalid_argument with one line naming the flag when any planned configuration cannot run
// or the options contradict each other (e.g. --compare with --sweep).
void validate(const BenchOptions& options);

}  // namespace shmraft::bench
