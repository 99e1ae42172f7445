#pragma once
// The self-contained HTML report of a sweep: inline SVG and CSS only (no script, no external resource),
// so a browser opens it straight from disk, and so does any viewer that renders SVG.
//   - throughput against clients, one line per configuration of the other dimensions;
//   - the latency CDF of every configuration (log-scale latency), one chart per group of configurations
//     that differ only in clients;
//   - the table of every figure.
#include <ostream>
#include <span>
#include <string>

#include "bench/kit/sweep.h"

namespace shmraft::bench {

// `subtitle` is printed under the title (e.g. the host and date the launcher knows); it is escaped.
void write_sweep_html(std::ostream& out, std::span<const SweepPoint> points,
                      const std::string& subtitle = "");

}  // namespace shmraft::bench
