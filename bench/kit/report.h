#pragma once
// The report of one `shmraft bench` invocation: one transport, or shm and tcp side by side (--compare),
// with the physical floors measured in the same run and what the nodes cost in CPU and memory.
// to_json() gives the object of DESIGN.md §5, to_text() the table printed without --json.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/kit/bench_config.h"
#include "bench/kit/floor.h"
#include "bench/kit/histogram.h"
#include "bench/kit/host_info.h"
#include "bench/kit/resources.h"
#include "bench/kit/run_loop.h"

namespace shmraft::bench {

// Percentiles in microseconds, the unit of every latency in the JSON report.
struct LatencyUs {
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, min = 0, mean = 0;
  static LatencyUs of(const Histogram& h);
};

struct NamedHistogram {
  std::string name;  // ASCII snake_case, e.g. "client_to_leader", "leader_persist", "replication"
  Histogram histogram;
};

// One kind of operation of a mixed load (reads beside writes), over the same measured window as `run`.
struct OperationOutcome {
  std::string name;  // "writes", "reads"
  uint64_t ops = 0;
  Histogram latency;
};

struct TransportResult {
  std::string transport;  // "shm" or "tcp"
  RunOutcome run;
  std::vector<NamedHistogram> phases;         // per-phase breakdown, in pipeline order; may be empty
  std::optional<CpuUsage> node_cpu;           // all node processes over the measured window
  std::vector<uint64_t> node_peak_rss_bytes;  // in node order, [0] = node 1; may be empty
  // Times each node went to sleep waiting for frames over the measured window (in node order, [0] =
  // node 1; may be empty): per op, whether the nodes spin through a busy exchange or pay a wake-up per hop.
  std::vector<uint64_t> node_sleeps;
  // Elections the nodes started over the measured window (none: not known, e.g. a node restarted): each
  // one a leader change that turns the old leader's pending writes into failures or retries.
  std::optional<uint64_t> elections;
  std::vector<OperationOutcome> operations;  // by kind, when the load mixes reads and writes
};

struct BenchReport {
  BenchConfig config;
  std::vector<TransportResult> transports;  // one, or {shm, tcp} under --compare
  std::vector<FloorResult> floors;          // every shape and strategy measured (see floor.h)
  uint64_t segment_bytes = 0;               // 0: not reported (tcp only)
  std::optional<HostInfo> host;
};

// The floor a configuration's commit is compared with: the best strategy's commit round of its node count.
const FloorResult* commit_floor(const BenchConfig& config, const std::vector<FloorResult>& floors);

// Whether an open-loop run kept up with its --rate (throughput at least kRateMetFraction of it); true for
// a closed loop.
inline constexpr double kRateMetFraction = 0.95;
bool rate_met(const BenchConfig& config, const RunOutcome& run);

// One transport's figures: ops, duration_s, throughput_ops_per_s, latency_us{p50,p90,p99,p999,max,min,
// mean}, interrupted, and when present phases_us, operations ({"writes": {ops, throughput_ops_per_s,
// latency_us}, "reads": ...}), cpu, peak_rss_bytes, sleeps_per_op, elections.
nlohmann::json transport_json(const TransportResult& result);

// With one transport: {"config", <transport_json keys>, "floor": [{shape, processes, wait, rounds,
// latency_us}], "floor_best": {shape, processes, wait, p50_us}, "p50_over_floor": commit p50 ÷ the best
// floor's p50, "rate_met" (open loop only), "segment_bytes", "host"}.
// With two (--compare): {"config", "<first>": {...}, "<second>": {...}, "ratio": {...}, "floor", ...} where
// ratio holds second ÷ first for each latency percentile (how many times slower tcp is than shm) and
// first ÷ second for throughput (how many times more shm commits), so every ratio > 1 favours the first.
nlohmann::json to_json(const BenchReport& report);

// The human-readable table.
std::string to_text(const BenchReport& report);

}  // namespace shmraft::bench
