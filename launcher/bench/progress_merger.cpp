#include "launcher/bench/progress_merger.h"

#include <utility>

namespace shmraft::bench {

ProgressMerger::ProgressMerger(uint32_t clients, RunLoop::ProgressSink sink)
    : clients_(clients), sink_(std::move(sink)), reported_(clients, 0) {}

RunLoop::ProgressSink ProgressMerger::sink_for(uint32_t client) {
  if (!sink_) return {};
  return [this, client](const Progress& progress) { add(client, progress); };
}

void ProgressMerger::add(uint32_t client, const Progress& p) {
  std::lock_guard lock(mutex_);
  const uint64_t number = reported_[client]++;
  Interval& interval =
      intervals_.try_emplace(number, Interval{0, 0, 0, 0, Histogram(p.interval_latency.significant_digits())})
          .first->second;
  ++interval.reports;
  interval.ops += p.interval_ops;
  interval.measured_ops += p.measured_ops;
  interval.seconds += p.interval_s;
  interval.latency.merge(p.interval_latency);
  if (interval.reports < clients_) return;
  sink_(Progress{p.phase, p.phase_elapsed_s, p.phase_length_s, interval.ops,
                 interval.seconds / interval.reports, interval.measured_ops, interval.latency});
  intervals_.erase(number);
}

}  // namespace shmraft::bench
