// The adaptive wait's learning rule (ipc::WaitLearner) replayed on wait traces recorded on real hosts
// (tests/benchkit/wait_traces/, made with bench/kit/record_wait_trace): on each, the waits it serves cost
// no more than the first-ranked step's (WaitLearner::weight) within what its switching margin and its
// explorations allow, and a step that ranks clearly dearer (the pause loop on a host where it holds off a
// peer queued on our CPU) serves only its share of the explorations. tests/ipc/wait_test.cpp has the same
// rule on drawn traces.
#include "bench/kit/wait_trace.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/test_seed.h"

namespace shmraft::bench {
namespace {

using ipc::IdleStep;
using ipc::WaitLearner;
using ipc::WaitPlan;

std::vector<std::filesystem::path> recorded_traces() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(SHMRAFT_WAIT_TRACE_DIR))
    if (entry.path().extension() == ".txt") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

WaitTrace load(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return parse_wait_trace(text.str());
}

// Replays `waits` waits through `learner`, each as long as `trace` draws for the step it planned.
// Returns their total length; counts the waits each step served. The recorded rounds used the default
// spin time, as the learner does here.
std::chrono::nanoseconds replay(WaitLearner& learner, const WaitTrace& trace, std::mt19937_64& rng, int waits,
                                int (&served)[ipc::kIdleSteps]) {
  std::chrono::nanoseconds total{};
  for (int i = 0; i < waits; ++i) {
    const WaitPlan plan = learner.next();
    const std::chrono::nanoseconds waited = trace.draw(plan.step, rng);
    ++served[static_cast<int>(plan.step)];
    total += waited;
    learner.observe({plan.step, waited, true});
  }
  return total;
}

// A step's mean as the learner ranks it (WaitLearner::weight).
std::chrono::nanoseconds ranked(const WaitTrace& trace, IdleStep step) {
  return trace.mean(step) * WaitLearner::weight(step);
}

// The step the learner should come to serve with.
IdleStep first_ranked(const WaitTrace& trace) {
  IdleStep best = IdleStep::pause;
  for (int step = 1; step < ipc::kIdleSteps; ++step)
    if (ranked(trace, static_cast<IdleStep>(step)) < ranked(trace, best)) best = static_cast<IdleStep>(step);
  return best;
}

class RecordedTrace : public ::testing::TestWithParam<std::filesystem::path> {};

TEST(RecordedTraces, ThereAreSome) {
  EXPECT_GE(recorded_traces().size(), 2u);
}

TEST_P(RecordedTrace, WaitsCostNoMoreThanTheFirstRankedStepWithinTheLearnersMargins) {
  const WaitTrace trace = load(GetParam());
  const uint64_t seed = testing::announce_seed();
  SCOPED_TRACE(testing::replay_command(seed) + " on " + GetParam().filename().string());
  std::mt19937_64 rng(seed);
  WaitLearner learner(ipc::kDefaultSpinTime);
  int served[ipc::kIdleSteps] = {};
  replay(learner, trace, rng, 1'000, served);  // learning
  constexpr int kWaits = 20'000;
  const std::chrono::nanoseconds total = replay(learner, trace, rng, kWaits, served);
  // Allowed: the first-ranked step's ranked mean times the switching margin (another step keeps serving
  // while it ranks under 8/7 of it; a ranked mean is never below the step's own), plus the explorations
  // (each other step once in kExploreInterval waits, at the dearest step's mean at worst), plus 10 % for
  // drawing from heavy tails (a few ms in the top percentiles of a loaded host).
  std::chrono::nanoseconds dearest{};
  for (int step = 0; step < ipc::kIdleSteps; ++step)
    dearest = std::max(dearest, trace.mean(static_cast<IdleStep>(step)));
  const IdleStep first = first_ranked(trace);
  const double best = static_cast<double>(ranked(trace, first).count());
  const double allowed_mean =
      1.10 * (best * 8 / 7 + 2 * static_cast<double>(dearest.count()) / WaitLearner::kExploreInterval);
  EXPECT_LE(static_cast<double>(total.count()) / kWaits, allowed_mean)
      << "first-ranked step " << ipc::to_string(first) << " ranks at " << best
      << " ns a wait; the learner prefers " << ipc::to_string(learner.preferred());
}

TEST_P(RecordedTrace, AClearlyDearerStepServesOnlyItsShareOfTheExplorations) {
  const WaitTrace trace = load(GetParam());
  const uint64_t seed = testing::announce_seed();
  SCOPED_TRACE(testing::replay_command(seed) + " on " + GetParam().filename().string());
  std::mt19937_64 rng(seed);
  WaitLearner learner(ipc::kDefaultSpinTime);
  int learning[ipc::kIdleSteps] = {};
  replay(learner, trace, rng, 1'000, learning);
  constexpr int kWaits = 20'000;
  int served[ipc::kIdleSteps] = {};
  replay(learner, trace, rng, kWaits, served);
  const IdleStep first = first_ranked(trace);
  const double best = static_cast<double>(ranked(trace, first).count());
  for (int step = 0; step < ipc::kIdleSteps; ++step) {
    // "Clearly": ranked at twice the first, well past the 8/7 margin, so the running mean's noise cannot
    // make it look cheaper for long.
    const double its = static_cast<double>(ranked(trace, static_cast<IdleStep>(step)).count());
    if (its < 2 * best) continue;
    EXPECT_LE(served[step], kWaits / static_cast<int>(WaitLearner::kExploreInterval) + 1)
        << ipc::to_string(static_cast<IdleStep>(step)) << " ranks at " << its << " ns a wait against " << best
        << " ns for " << ipc::to_string(first);
  }
}

INSTANTIATE_TEST_SUITE_P(Bench, RecordedTrace, ::testing::ValuesIn(recorded_traces()), [](const auto& info) {
  std::string name = info.param.stem().string();
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
  return name;
});

TEST(WaitTraceFile, RoundTripsThroughItsText) {
  WaitTrace trace;
  trace.comments = {"host: test", "recorded now"};
  for (int step = 0; step < ipc::kIdleSteps; ++step)
    for (int p = 0; p < WaitTrace::kPercentiles; ++p)
      trace.percentiles[step][p] = uint64_t(100 * (step + 1) + p);
  const WaitTrace back = parse_wait_trace(to_text(trace));
  EXPECT_EQ(back.comments, trace.comments);
  EXPECT_EQ(back.percentiles, trace.percentiles);
}

TEST(WaitTraceFile, MalformedTracesAreRefusedByLine) {
  // "NAME FIRST 2 3 ... 99": 99 percentiles, rising unless FIRST is above 2.
  const auto line = [](const std::string& name, const std::string& first) {
    std::string text = name + ' ' + first;
    for (int p = 2; p <= WaitTrace::kPercentiles; ++p) text += fmt::format(" {}", p);
    return text + '\n';
  };
  const auto refusal = [](const std::string& text) {
    try {
      parse_wait_trace(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refusal(line("pause", "1") + line("yield", "1")), "wait trace: step 'sleep' missing");
  EXPECT_EQ(refusal(line("spin", "1")), "wait trace line 1: 'spin' is not a step (pause, yield, sleep)");
  EXPECT_EQ(refusal("# c\npause 1 2 3\n"), "wait trace line 2: 3 percentiles, expected 99");
  std::string long_line = line("pause", "1");
  long_line.insert(long_line.size() - 1, " 100");
  EXPECT_EQ(refusal(long_line), "wait trace line 1: more than 99 percentiles");
  EXPECT_EQ(refusal(line("pause", "5")), "wait trace line 1: percentiles must not fall");
  EXPECT_EQ(refusal(line("pause", "x")), "wait trace line 1: 'x' is not a number of nanoseconds");
  EXPECT_EQ(refusal(line("pause", "1") + line("pause", "1")), "wait trace line 2: step 'pause' given twice");
  EXPECT_EQ(refusal(line("pause", "1") + line("yield", "1") + line("sleep", "1")), "accepted");
}

}  // namespace
}  // namespace shmraft::bench
