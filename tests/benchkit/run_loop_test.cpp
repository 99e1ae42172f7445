#include "bench/kit/run_loop.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <vector>

namespace shmraft::bench {
namespace {

constexpr uint64_t kMs = 1'000'000;

RunSpec spec(uint64_t warmup_ms, uint64_t measure_ms, uint64_t progress_ms) {
  RunSpec s;
  s.warmup = std::chrono::milliseconds(warmup_ms);
  s.measure = std::chrono::milliseconds(measure_ms);
  s.progress_interval = std::chrono::milliseconds(progress_ms);
  return s;
}

// Drives a loop on a fake clock: one op completing every millisecond with a latency of 1000 + t_ms ns.
RunOutcome drive(RunLoop& loop, uint64_t until_ms, StopFlag* stop = nullptr, uint64_t stop_at_ms = 0) {
  loop.start(0);
  uint64_t t = 0;
  while (t <= until_ms) {
    if (stop && t == stop_at_ms) stop->request();
    if (!loop.tick(t * kMs)) break;
    loop.complete(1000 + t);
    ++t;
  }
  return loop.finish(t * kMs);
}

TEST(RunLoop, WarmUpThenMeasureCountingOnlyTheMeasuredWindow) {
  StopFlag stop;
  std::vector<Phase> progress_phases;
  RunLoop loop(spec(1000, 2000, 500), stop, [&](const Progress& p) {
    progress_phases.push_back(p.phase);
    EXPECT_NEAR(p.interval_s, 0.5, 1e-9);
    EXPECT_EQ(p.interval_ops, 500u);
    EXPECT_EQ(p.interval_latency.count(), 500u);
  });
  const RunOutcome out = drive(loop, 10'000);
  // Ticks at 1000..2999 ms complete in the measured window.
  EXPECT_EQ(out.ops, 2000u);
  EXPECT_DOUBLE_EQ(out.duration_s, 2.0);
  EXPECT_FALSE(out.interrupted);
  EXPECT_EQ(out.latency.count(), 2000u);
  EXPECT_EQ(out.latency.min(), 2000u);
  EXPECT_EQ(out.latency.max(), 3999u);
  EXPECT_DOUBLE_EQ(out.throughput_ops_per_s(), 1000.0);
  EXPECT_EQ(progress_phases, (std::vector<Phase>{Phase::warmup, Phase::warmup, Phase::measure, Phase::measure,
                                                 Phase::measure, Phase::measure}));
  EXPECT_EQ(loop.phase(), Phase::done);
}

TEST(RunLoop, NoWarmUpStartsMeasuringAtOnce) {
  StopFlag stop;
  RunLoop loop(spec(0, 100, 0), stop);
  const RunOutcome out = drive(loop, 1000);
  EXPECT_EQ(out.ops, 100u);
  EXPECT_DOUBLE_EQ(out.duration_s, 0.1);
}

TEST(RunLoop, StopDuringMeasurementReportsWhatWasMeasured) {
  StopFlag stop;
  RunLoop loop(spec(100, 10'000, 0), stop);
  const RunOutcome out = drive(loop, 20'000, &stop, 600);
  EXPECT_TRUE(out.interrupted);
  EXPECT_EQ(out.ops, 500u);
  EXPECT_DOUBLE_EQ(out.duration_s, 0.5);
  EXPECT_EQ(out.latency.count(), 500u);
}

TEST(RunLoop, StopDuringWarmUpMeasuresNothing) {
  StopFlag stop;
  RunLoop loop(spec(1000, 1000, 0), stop);
  const RunOutcome out = drive(loop, 5000, &stop, 10);
  EXPECT_TRUE(out.interrupted);
  EXPECT_EQ(out.ops, 0u);
  EXPECT_EQ(out.duration_s, 0.0);
}

TEST(RunLoop, FinishBeforeTheEndClosesTheWindowThere) {
  StopFlag stop;
  RunLoop loop(spec(0, 1000, 0), stop);
  loop.start(0);
  ASSERT_TRUE(loop.tick(0));
  loop.complete(5);
  const RunOutcome out = loop.finish(250 * kMs);
  EXPECT_EQ(out.ops, 1u);
  EXPECT_DOUBLE_EQ(out.duration_s, 0.25);
  EXPECT_FALSE(loop.tick(300 * kMs));
}

TEST(RunLoop, RejectsBadSpecsAndMisuse) {
  StopFlag stop;
  EXPECT_THROW(RunLoop(spec(0, 0, 0), stop), std::invalid_argument);
  RunSpec negative = spec(0, 10, 0);
  negative.warmup = std::chrono::milliseconds(-1);
  EXPECT_THROW(RunLoop(negative, stop), std::invalid_argument);
  RunLoop loop(spec(0, 10, 0), stop);
  EXPECT_THROW(loop.tick(0), std::logic_error);
  loop.start(0);
  EXPECT_THROW(loop.start(0), std::logic_error);
}

TEST(RunLoop, ProgressLineShowsPhaseRateAndPercentiles) {
  Histogram h;
  for (int i = 0; i < 100; ++i) h.record(2000);
  const std::string line = format_progress(Progress{Phase::measure, 3.0, 10.0, 400'000, 1.0, 1'200'000, h});
  EXPECT_NE(line.find("measure"), std::string::npos) << line;
  EXPECT_NE(line.find("3/10 s"), std::string::npos) << line;
  EXPECT_NE(line.find("400 K ops/s"), std::string::npos) << line;
  EXPECT_NE(line.find("p50"), std::string::npos) << line;
  EXPECT_NE(line.find("2.00 µs"), std::string::npos) << line;
}

TEST(StopOnSignals, FirstInterruptRaisesTheFlagAndHandlersAreRestored) {
  struct sigaction before {};
  sigaction(SIGINT, nullptr, &before);
  StopFlag stop;
  {
    StopOnSignals scope(stop);
    StopFlag other;
    EXPECT_THROW(StopOnSignals second(other), std::logic_error);
    raise(SIGINT);
    EXPECT_TRUE(stop.requested());
    stop.clear();
    raise(SIGTERM);  // SIGTERM has its own one-shot handler
    EXPECT_TRUE(stop.requested());
  }
  struct sigaction after {};
  sigaction(SIGINT, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
}

}  // namespace
}  // namespace shmraft::bench
