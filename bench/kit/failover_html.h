#pragma once
// The fail-over part of the sweep's HTML report (`shmraft bench --sweep --failover`): per sweep point,
// the percentiles of detection, election and window as range marks on one log-scale time axis, and the
// table of those figures. Inline SVG, fitting the window's width like the other charts.
#include <span>
#include <string>

#include "bench/kit/sweep.h"

namespace shmraft::bench {

// The section (heading, chart, table); "" when no point measured fail-overs.
std::string failover_section(std::span<const SweepPoint> points);

}  // namespace shmraft::bench
