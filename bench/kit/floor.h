#pragma once
// The physical floor under a commit: a token passed around a ring of N processes (this one and N-1
// forked children) through cache lines of an anonymous shared mapping, nothing else. A Raft commit over
// shared memory cannot be faster than a round of its processes, so `shmraft bench` prints commit p50 ÷
// this floor. The wait between hops is the cluster's own strategy, because on 2 cores with 3+ processes
// it, not the cache line, sets the floor.
#include <chrono>
#include <cstdint>
#include <string_view>

#include "bench/kit/histogram.h"

namespace shmraft::bench {

enum class WaitStrategy {
  spin,      // busy-poll the cache line
  yield,     // poll, sched_yield() between polls
  block,     // futex wait at once
  adaptive,  // spin for spin_before_block, then futex wait
};
const char* to_string(WaitStrategy wait) noexcept;
// "spin" | "yield" | "block" | "adaptive"; throws std::invalid_argument listing them otherwise.
WaitStrategy parse_wait_strategy(std::string_view name);

struct FloorSpec {
  int processes = 3;  // 2..8, this process included
  WaitStrategy wait = WaitStrategy::adaptive;
  std::chrono::nanoseconds spin_before_block = std::chrono::microseconds(10);  // adaptive only
  uint64_t warmup_rounds = 1'000;
  uint64_t rounds = 100'000;
  // Ends the measurement early (with fewer rounds) when the host is so busy that `rounds` would take longer.
  std::chrono::nanoseconds max_duration = std::chrono::seconds(2);
};

struct FloorResult {
  FloorSpec spec;
  Histogram round_trip;  // one sample per round of the token through every process
};

// Forks processes-1 children, measures, stops and reaps them. Throws std::invalid_argument for a bad spec
// and std::runtime_error if fork fails or a child dies (the measurement is then discarded).
FloorResult measure_floor(const FloorSpec& spec);

}  // namespace shmraft::bench
