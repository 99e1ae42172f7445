#pragma once
// One progress line for many client threads. Every client runs its own RunLoop, all started at the same
// instant, so their k-th progress reports cover the same interval; the merger sums the operations, merges
// the latency histograms and hands the combined report on once every client has reported interval k
// (from the thread that completes it: one short stderr write per interval).
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "bench/kit/histogram.h"
#include "bench/kit/run_loop.h"

namespace shmraft::bench {

class ProgressMerger {
 public:
  ProgressMerger(uint32_t clients, RunLoop::ProgressSink sink);

  // The sink for client `client`'s RunLoop. The merger must outlive the loops.
  RunLoop::ProgressSink sink_for(uint32_t client);

 private:
  struct Interval {
    uint32_t reports = 0;
    uint64_t ops = 0;
    uint64_t measured_ops = 0;
    double seconds = 0;  // sum over the clients' reports; divided by `reports` for the line
    Histogram latency;
  };
  void add(uint32_t client, const Progress& progress);

  uint32_t clients_;
  RunLoop::ProgressSink sink_;
  std::mutex mutex_;
  std::vector<uint64_t> reported_;          // by client: progress reports so far
  std::map<uint64_t, Interval> intervals_;  // by report number, until every client has reported
};

}  // namespace shmraft::bench
