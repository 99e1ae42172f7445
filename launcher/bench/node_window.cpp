#include "launcher/bench/node_window.h"

#include <stdexcept>

namespace shmraft::bench {

NodeWindowMeter::NodeWindowMeter(const ipc::Segment& segment, std::vector<pid_t> pids)
    : segment_(segment), cpu_(std::move(pids)) {}

std::vector<ipc::NodeCountersSnapshot> NodeWindowMeter::counters() const {
  std::vector<ipc::NodeCountersSnapshot> counters;
  for (uint32_t node = 1; node <= segment_.node_count(); ++node)
    counters.push_back(segment_.node_counters(node).snapshot());
  return counters;
}

void NodeWindowMeter::start(uint64_t now_ns) {
  at_start_ = counters();
  try {
    cpu_.start(now_ns);
    cpu_started_ = true;
  } catch (const std::runtime_error&) {
    // A node is gone already (the caller reports its exit); no CPU figure for this window.
  }
}

NodeWindow NodeWindowMeter::stop(uint64_t now_ns) const {
  NodeWindow window;
  if (cpu_started_) {
    try {
      window.cpu = cpu_.stop(now_ns);
    } catch (const std::runtime_error&) {
      // A node went away during the window.
    }
  }
  const std::vector<ipc::NodeCountersSnapshot> now = counters();
  uint64_t elections = 0;
  for (std::size_t node = 0; node < now.size() && node < at_start_.size(); ++node) {
    const ipc::NodeCountersSnapshot& then = at_start_[node];
    // A restarted node's counters began again (its incarnation tells it even if they grew past).
    if (now[node].incarnation != then.incarnation || now[node].sleeps < then.sleeps ||
        now[node].elections < then.elections)
      return {window.cpu, {}, std::nullopt};
    window.sleeps.push_back(now[node].sleeps - then.sleeps);
    elections += now[node].elections - then.elections;
  }
  window.elections = elections;
  return window;
}

std::vector<uint64_t> node_peak_rss(const std::vector<pid_t>& pids) {
  std::vector<uint64_t> peaks;
  try {
    for (const pid_t pid : pids) peaks.push_back(read_peak_rss_bytes(pid));
  } catch (const std::runtime_error&) {
    return {};  // the caller reports the node's exit
  }
  return peaks;
}

std::vector<pid_t> published_node_pids(const ipc::Segment& segment) {
  std::vector<pid_t> pids;
  for (uint32_t node = 1; node <= segment.node_count(); ++node)
    pids.push_back(static_cast<pid_t>(segment.node_counters(node).snapshot().pid));
  return pids;
}

}  // namespace shmraft::bench
