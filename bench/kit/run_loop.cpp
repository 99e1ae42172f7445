#include "bench/kit/run_loop.h"

#include <fmt/format.h>

#include <cstdio>
#include <stdexcept>
#include <utility>

#include "bench/kit/units.h"

namespace shmraft::bench {

const char* to_string(Phase phase) noexcept {
  switch (phase) {
    case Phase::idle:
      return "idle";
    case Phase::warmup:
      return "warm-up";
    case Phase::measure:
      return "measure";
    case Phase::done:
      return "done";
  }
  return "?";
}

std::string format_progress(const Progress& p) {
  const double rate = p.interval_s > 0 ? static_cast<double>(p.interval_ops) / p.interval_s : 0;
  std::string line = fmt::format("{:<8} {:>4.0f}/{:.0f} s  {:>10} ops/s", to_string(p.phase),
                                 p.phase_elapsed_s, p.phase_length_s, format_count(rate));
  if (!p.interval_latency.empty()) {
    line += fmt::format(
        "  p50 {:>9}  p99 {:>9}  max {:>9}", format_ns(p.interval_latency.value_at_percentile(50)),
        format_ns(p.interval_latency.value_at_percentile(99)), format_ns(p.interval_latency.max()));
  }
  return line;
}

std::function<void(const Progress&)> progress_to_stderr() {
  return [](const Progress& p) { fmt::print(stderr, "{}\n", format_progress(p)); };
}

RunLoop::RunLoop(RunSpec spec, const StopFlag& stop, ProgressSink on_progress)
    : spec_(spec),
      stop_(stop),
      on_progress_(std::move(on_progress)),
      latency_(spec.significant_digits),
      interval_latency_(spec.significant_digits) {
  if (spec.warmup.count() < 0) throw std::invalid_argument("warm-up must not be negative");
  if (spec.measure.count() <= 0) throw std::invalid_argument("measured duration must be positive");
  if (spec.progress_interval.count() < 0)
    throw std::invalid_argument("progress interval must not be negative");
}

void RunLoop::enter(Phase phase, uint64_t now_ns) {
  phase_ = phase;
  phase_start_ns_ = now_ns;
  if (phase == Phase::measure) measure_start_ns_ = now_ns;
}

void RunLoop::start(uint64_t now_ns) {
  if (phase_ != Phase::idle) throw std::logic_error("RunLoop::start called twice");
  interval_start_ns_ = now_ns;
  enter(spec_.warmup.count() > 0 ? Phase::warmup : Phase::measure, now_ns);
}

bool RunLoop::tick(uint64_t now_ns) {
  if (phase_ == Phase::idle) throw std::logic_error("RunLoop::tick before start");
  if (phase_ == Phase::done) return false;
  if (stop_.requested()) {
    interrupted_ = true;
    end(now_ns);
    return false;
  }
  if (spec_.progress_interval.count() > 0 &&
      now_ns - interval_start_ns_ >= static_cast<uint64_t>(spec_.progress_interval.count())) {
    emit_progress(now_ns);
  }
  const uint64_t elapsed = now_ns - phase_start_ns_;
  if (phase_ == Phase::warmup && elapsed >= static_cast<uint64_t>(spec_.warmup.count())) {
    enter(Phase::measure, now_ns);
  } else if (phase_ == Phase::measure && elapsed >= static_cast<uint64_t>(spec_.measure.count())) {
    end(now_ns);
    return false;
  }
  return true;
}

void RunLoop::emit_progress(uint64_t now_ns) {
  if (on_progress_) {
    const double length = phase_ == Phase::warmup ? std::chrono::duration<double>(spec_.warmup).count()
                                                  : std::chrono::duration<double>(spec_.measure).count();
    on_progress_(Progress{phase_, static_cast<double>(now_ns - phase_start_ns_) * 1e-9, length, interval_ops_,
                          static_cast<double>(now_ns - interval_start_ns_) * 1e-9, measured_ops_,
                          interval_latency_});
  }
  interval_start_ns_ = now_ns;
  interval_ops_ = 0;
  interval_latency_.reset();
}

void RunLoop::end(uint64_t now_ns) {
  if (phase_ == Phase::done) return;
  if (phase_ == Phase::measure) {
    measure_end_ns_ = now_ns;
  } else {
    measure_start_ns_ = measure_end_ns_ = now_ns;  // stopped during warm-up: nothing measured
  }
  if (stop_.requested()) interrupted_ = true;
  phase_ = Phase::done;
}

RunOutcome RunLoop::finish(uint64_t now_ns) {
  if (phase_ == Phase::idle) throw std::logic_error("RunLoop::finish before start");
  end(now_ns);
  return RunOutcome{measured_ops_, static_cast<double>(measure_end_ns_ - measure_start_ns_) * 1e-9,
                    interrupted_, latency_};
}

}  // namespace shmraft::bench
