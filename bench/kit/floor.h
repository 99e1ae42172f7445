#pragma once
// The physical floor under a commit: a token passed around a ring of N processes (this one and N-1
// forked children) through cache lines of an anonymous shared mapping, nothing else. A Raft commit over
// shared memory cannot be faster than a round of its processes, so `shmraft bench` prints commit p50 ÷
// this floor. Each hop is what a ring hop costs the cluster besides the frame itself: a release store of
// a word on one cache line, the consumer's doorbell rung (ipc::Doorbell), and the consumer waiting with
// the cluster's own ipc::Waiter strategy, because on 2 cores with 3+ processes the wait, not the cache
// line, sets the floor.
#include <chrono>
#include <cstdint>

#include "bench/kit/histogram.h"
#include "ipc/wait.h"

namespace shmraft::bench {

struct FloorSpec {
  int processes = 3;  // 2..8, this process included
  ipc::WaitStrategy wait = ipc::kDefaultWaitStrategy;
  std::chrono::nanoseconds spin_time = ipc::kDefaultSpinTime;  // adaptive only
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
