#pragma once
// What the node processes cost over a load's measured window: their CPU (/proc), how often each went
// to sleep waiting for frames and how many elections they started (the segment's node counters). Metered by
// the bench process, or — under `shmraft bench --in-leader` — by the leader's own process, which runs the
// load.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "bench/kit/resources.h"
#include "ipc/segment.h"

namespace shmraft::bench {

struct NodeWindow {
  std::optional<CpuUsage> cpu;   // none when a node was gone at either end of the window
  std::vector<uint64_t> sleeps;  // by node id, [0] = node 1; empty when a node restarted meanwhile
  // Elections any node started (became a candidate) in the window; none when a node restarted meanwhile.
  std::optional<uint64_t> elections;
};

class NodeWindowMeter {
 public:
  // `pids`: the node processes, by node id. `segment` must outlive the meter.
  NodeWindowMeter(const ipc::Segment& segment, std::vector<pid_t> pids);
  void start(uint64_t now_ns);
  NodeWindow stop(uint64_t now_ns) const;

 private:
  std::vector<ipc::NodeCountersSnapshot> counters() const;

  const ipc::Segment& segment_;
  CpuMeter cpu_;
  bool cpu_started_ = false;
  std::vector<ipc::NodeCountersSnapshot> at_start_;  // by node id, [0] = node 1
};

// Each node's peak resident memory, in the order of `pids`; empty when one of them is gone.
std::vector<uint64_t> node_peak_rss(const std::vector<pid_t>& pids);

// The pids the nodes 1..node_count() published in their counters (for a process that did not start them).
std::vector<pid_t> published_node_pids(const ipc::Segment& segment);

}  // namespace shmraft::bench
