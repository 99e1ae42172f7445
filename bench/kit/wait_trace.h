#pragma once
// A recorded wait trace: what each idle step of the adaptive wait (ipc::WaitLearner's pause, yield,
// sleep) costs a commit-shaped exchange on one host, so the learning rule can be tested on what real
// hosts did instead of on figures drawn around a guess. Each step's cost is the floor's commit round
// (bench/kit/floor.h) measured with the strategy that waits with that step — pause: spin-block (a pause
// loop for the spin time, then the futex), yield: yield, sleep: block — kept as its 1st..99th
// percentiles. Replaying a trace draws a wait's length from its step's percentiles, uniformly.
//
// File format (text, one step per line, '#' lines are comments that say where the trace came from):
//     # host: AuthenticAMD family 26 model 2 (AMD EPYC) 2695 MHz · 2 CPUs · ...
//     pause 812 845 ... (99 values, nanoseconds)
//     yield ...
//     sleep ...
#include <array>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/wait.h"

namespace shmraft::bench {

struct WaitTrace {
  static constexpr int kPercentiles = 99;
  std::vector<std::string> comments;  // without the leading "# "
  // By ipc::IdleStep: the 1st..99th percentile of a wait with that step, in nanoseconds.
  std::array<std::array<uint64_t, kPercentiles>, ipc::kIdleSteps> percentiles{};

  // The mean of a step's percentiles: what the learner's running mean converges to.
  std::chrono::nanoseconds mean(ipc::IdleStep step) const noexcept;
  // A wait's length with `step`, drawn uniformly from its percentiles.
  std::chrono::nanoseconds draw(ipc::IdleStep step, std::mt19937_64& rng) const noexcept;
};

// Measures each step with the commit-shaped floor of `nodes` nodes (nodes + 1 processes), `rounds`
// rounds each (at most 2 s per step), and notes the host, time and load average in the comments.
WaitTrace record_wait_trace(uint32_t nodes, uint64_t rounds);

std::string to_text(const WaitTrace& trace);
// Throws std::invalid_argument naming the line for a malformed trace (a missing step, a wrong count,
// a value that is not a number, percentiles that fall).
WaitTrace parse_wait_trace(std::string_view text);

}  // namespace shmraft::bench
