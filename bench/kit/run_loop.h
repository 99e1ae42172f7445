#pragma once
// The shape every benchmark client loop shares, closed or open loop:
//
//   RunLoop loop(spec, stop, print_progress_line);
//   loop.start(ipc::monotonic_ns());
//   while (loop.tick(ipc::monotonic_ns())) {
//     ... send what is due (closed loop: while outstanding < pipeline; open loop: OpenLoopSchedule) ...
//     ... for each response: loop.complete(now - sent_or_intended_ns) ...
//   }
//   RunOutcome outcome = loop.finish();
//
// Warm-up first (nothing recorded), then the measured window; a progress line once per interval; a
// StopFlag (Ctrl-C) ends the run early and finish() still returns what was measured, marked interrupted.
// complete() counts by completion time and never reads the clock or allocates.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "bench/kit/histogram.h"
#include "bench/kit/stop_flag.h"

namespace shmraft::bench {

enum class Phase { idle, warmup, measure, done };
const char* to_string(Phase phase) noexcept;

struct RunSpec {
  std::chrono::nanoseconds warmup = std::chrono::seconds(2);
  std::chrono::nanoseconds measure = std::chrono::seconds(10);
  std::chrono::nanoseconds progress_interval = std::chrono::seconds(1);  // 0: no progress lines
  int significant_digits = 2;
};

// What a progress line reports: the last interval's rate and latency, and the phase's position.
struct Progress {
  Phase phase;
  double phase_elapsed_s;
  double phase_length_s;
  uint64_t interval_ops;
  double interval_s;
  uint64_t measured_ops;
  const Histogram& interval_latency;
};

// "measure   3/10 s   412 K ops/s  p50 2.41 µs  p99 7.93 µs  max 31.2 µs"
std::string format_progress(const Progress& progress);
// A progress sink printing format_progress() lines to stderr (stdout stays clean for --json).
std::function<void(const Progress&)> progress_to_stderr();

struct RunOutcome {
  uint64_t ops = 0;          // completed inside the measured window
  double duration_s = 0;     // length of the measured window actually run
  bool interrupted = false;  // stopped by the StopFlag before the window ended
  Histogram latency;
  double throughput_ops_per_s() const noexcept {
    return duration_s > 0 ? static_cast<double>(ops) / duration_s : 0;
  }
};

class RunLoop {
 public:
  using ProgressSink = std::function<void(const Progress&)>;

  // Throws std::invalid_argument for a negative warm-up or a measured window that is not positive.
  RunLoop(RunSpec spec, const StopFlag& stop, ProgressSink on_progress = {});

  void start(uint64_t now_ns);
  // Advances the phase, emits due progress lines; false once the window has ended or a stop was requested.
  bool tick(uint64_t now_ns);
  // One completed operation, attributed to the phase of the latest tick.
  void complete(uint64_t latency_ns) noexcept {
    interval_latency_.record(latency_ns);
    ++interval_ops_;
    if (phase_ == Phase::measure) {
      latency_.record(latency_ns);
      ++measured_ops_;
    }
  }
  Phase phase() const noexcept { return phase_; }
  // Ends the run (if tick() has not) and hands over the measured window.
  RunOutcome finish(uint64_t now_ns);

 private:
  void enter(Phase phase, uint64_t now_ns);
  void end(uint64_t now_ns);
  void emit_progress(uint64_t now_ns);

  RunSpec spec_;
  const StopFlag& stop_;
  ProgressSink on_progress_;
  Phase phase_ = Phase::idle;
  uint64_t phase_start_ns_ = 0;
  uint64_t measure_start_ns_ = 0;
  uint64_t measure_end_ns_ = 0;
  uint64_t interval_start_ns_ = 0;
  uint64_t interval_ops_ = 0;
  uint64_t measured_ops_ = 0;
  bool interrupted_ = false;
  Histogram latency_;
  Histogram interval_latency_;
};

}  // namespace shmraft::bench
