#pragma once
// `shmraft bench --sweep`: the grid of configurations it runs, and its CSV. The HTML report is in
// sweep_html.h.
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "bench/kit/bench_config.h"
#include "bench/kit/failover_report.h"
#include "bench/kit/report.h"

namespace shmraft::bench {

// Defaults from issue 6; the launcher overrides any dimension from its flags.
struct SweepGrid {
  std::vector<uint32_t> nodes{1, 3, 5};
  std::vector<uint32_t> clients{1, 4, 16, 64};
  std::vector<uint32_t> payload_bytes{64, 1024};
  std::vector<std::string> fsync{"none", "batch"};

  // Every combination, `base` supplying the other fields; clients vary fastest, so configurations that
  // differ only in clients (one throughput-against-clients line) are adjacent. Throws
  // std::invalid_argument if a dimension is empty.
  std::vector<BenchConfig> expand(const BenchConfig& base) const;
};

// One measured configuration of a sweep.
struct SweepPoint {
  BenchConfig config;
  TransportResult result;
  std::optional<FailoverResult> failover = std::nullopt;  // `--sweep --failover`
};

// One header line, then one line per point: the configuration, ops, duration, throughput, latency
// percentiles in µs, CPU per op and cores when measured, and whether the run was interrupted.
void write_sweep_csv(std::ostream& out, std::span<const SweepPoint> points);

}  // namespace shmraft::bench
