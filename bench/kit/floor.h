#pragma once
// The physical floor under a commit: a token passed between processes (this one and forked children)
// through cache lines of an anonymous shared mapping, nothing else. A Raft commit over shared memory
// cannot be faster than the same round of its processes, so `shmraft bench` prints commit p50 ÷ the best
// floor of the run's own shape. Each hop is what a ring hop costs the cluster besides the frame itself: a
// release store of a word on one cache line, the consumer's doorbell rung (ipc::Doorbell), and the
// consumer waiting with an ipc::Waiter strategy — on 2 cores with 3+ processes the wait, not the cache
// line, sets the floor, so the floor is measured with several strategies and the best is the machine's.
//
// Two shapes:
//   ring    the token goes round N processes in turn (0 → 1 → … → N-1 → 0)
//   commit  as a commit travels a cluster of N-1 nodes: the client (this process) → the leader → every
//           follower → the leader, once a majority of the nodes has it → the client. N = nodes + 1, the
//           processes of a benchmark run (its client threads live in one process).
#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

#include "bench/kit/histogram.h"
#include "ipc/layout.h"
#include "ipc/wait.h"

namespace shmraft::bench {

enum class FloorShape : uint8_t { ring, commit };
std::string_view to_string(FloorShape shape) noexcept;

inline constexpr int kMaxFloorProcesses = static_cast<int>(ipc::kMaxNodes) + 1;

struct FloorSpec {
  FloorShape shape = FloorShape::ring;
  int processes = 3;  // 2..kMaxFloorProcesses, this process included
  ipc::WaitStrategy wait = ipc::kDefaultWaitStrategy;
  std::chrono::nanoseconds spin_time = ipc::kDefaultSpinTime;  // adaptive and spin-block
  uint64_t warmup_rounds = 1'000;
  uint64_t rounds = 100'000;
  // Ends the measurement early (with fewer rounds) when the host is so busy that `rounds` would take longer.
  std::chrono::nanoseconds max_duration = std::chrono::seconds(2);
};

// The commit shape of a cluster of `nodes` nodes: nodes + 1 processes, like the run.
FloorSpec commit_floor_spec(uint32_t nodes);

// The strategies a floor is measured with, the best of which is the machine's floor: pause-spin then
// futex, spin + sched_yield, futex only, and the cluster's adaptive wait.
inline constexpr ipc::WaitStrategy kFloorStrategies[] = {ipc::WaitStrategy::spin_block,
                                                         ipc::WaitStrategy::yield, ipc::WaitStrategy::block,
                                                         ipc::WaitStrategy::adaptive};

struct FloorResult {
  FloorSpec spec;
  Histogram round_trip;  // one sample per round of the token
  int participants = 0;  // distinct processes the token passed through, as counted by the probe
};

// Forks processes-1 children, measures, stops and reaps them. Throws std::invalid_argument for a bad spec
// and std::runtime_error if fork fails or a child dies (the measurement is then discarded).
FloorResult measure_floor(const FloorSpec& spec);

// The floor with the lowest p50 among `floors` of the given shape and process count, or nullptr.
const FloorResult* best_floor(const std::vector<FloorResult>& floors, FloorShape shape, int processes);

}  // namespace shmraft::bench
