#pragma once
// What one `shmraft bench` run was asked to do: the `config` object of its report and the dimensions of
// a sweep. Flag parsing stays in the launcher; validate() holds the rules that need no running cluster.
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace shmraft::bench {

struct BenchConfig {
  uint32_t nodes = 3;
  uint32_t clients = 1;         // logical clients: each its own slot, session and outstanding window
  uint32_t client_threads = 0;  // event loops driving them (0: not chosen yet, see the launcher)
  uint32_t pipeline = 1;        // outstanding operations per client
  uint32_t payload_bytes = 64;
  std::string fsync = "none";        // none | batch | always
  std::string wait = "adaptive";     // spin | yield | block | adaptive
  std::string transport = "shm";     // shm | tcp
  double rate_ops_per_s = 0;         // 0: closed loop; otherwise open loop at this total rate
  double reads = 0;                  // fraction of operations that are linearizable gets (ReadIndex)
  uint32_t keys = 0;                 // shared key space k0..k<keys-1>; 0: each client its own (65 536 in all)
  std::string key_dist = "uniform";  // over the shared key space: uniform | zipfian (YCSB, θ = 0.99)
  std::chrono::nanoseconds warmup = std::chrono::seconds(2);
  std::chrono::nanoseconds measure = std::chrono::seconds(10);
  // The load's client threads run inside the leader's process (`--in-leader`, as NuRaft's benchmark
  // runs its load), not in the benchmark's own process.
  bool in_leader = false;
  // Nodes' loops (once recovered) and the client threads run at SCHED_RR (node/process/realtime.h).
  bool realtime = false;

  bool open_loop() const noexcept { return rate_ops_per_s > 0; }
  // Operations the load keeps outstanding at once: what a comparison with another system must match.
  uint64_t in_flight() const noexcept { return uint64_t{clients} * pipeline; }
  // "3 nodes, 4 clients × pipeline 1 (4 in flight, 1 client thread), 64 B, fsync none, ..."
  std::string describe() const;
  // Short legend label for the configuration's dimensions other than `clients`.
  std::string series_label() const;
};

void to_json(nlohmann::json& out, const BenchConfig& config);
// The inverse of to_json (the derived fields in_flight and loop are ignored), e.g. for the load that
// `--in-leader` hands to the nodes. Throws std::invalid_argument naming a missing or mistyped field.
BenchConfig config_from_json(const nlohmann::json& in);

// Limits that depend on the cluster's build (ring sizes, segment capacity), passed in by the launcher.
struct BenchLimits {
  uint32_t max_nodes = 5;
  uint32_t max_clients = 64;
  uint32_t max_payload_bytes = 0;  // largest command a client ring frame can carry
  // No commit completes faster than this (e.g. the measured 2-process floor): an open-loop rate needing
  // more operations in flight than clients × pipeline at this latency cannot be met.
  double min_commit_ns = 100;
};

// Throws std::invalid_argument with a message naming the offending flag (e.g. "--payload 1048576 exceeds
// the largest ring frame, 65524 bytes") for a configuration that cannot run.
void validate(const BenchConfig& config, const BenchLimits& limits);

}  // namespace shmraft::bench
