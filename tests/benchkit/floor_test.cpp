#include "bench/kit/floor.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>

namespace shmraft::bench {
namespace {

// Floors are timed, not asserted: these tests check that the token makes its rounds with every wait
// strategy and that no child is left behind.
void expect_no_children_left() {
  int status;
  EXPECT_EQ(waitpid(-1, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

struct Case {
  int processes;
  ipc::WaitStrategy wait;
  FloorShape shape = FloorShape::ring;
};

void PrintTo(const Case& c, std::ostream* out) {
  *out << to_string(c.shape) << ", " << c.processes << " processes, " << ipc::to_string(c.wait);
}

class Floor : public ::testing::TestWithParam<Case> {};

TEST_P(Floor, TokenCompletesItsRounds) {
  FloorSpec spec;
  spec.shape = GetParam().shape;
  spec.processes = GetParam().processes;
  spec.wait = GetParam().wait;
  spec.warmup_rounds = 100;
  spec.rounds = 2'000;
  spec.max_duration = std::chrono::milliseconds(1500);
  const FloorResult result = measure_floor(spec);
  EXPECT_GT(result.round_trip.count(), 0u);
  EXPECT_LE(result.round_trip.count(), spec.rounds);
  EXPECT_GT(result.round_trip.min(), 0u);
  EXPECT_EQ(result.spec.processes, spec.processes);
  EXPECT_EQ(result.participants, spec.processes);
  expect_no_children_left();
}

INSTANTIATE_TEST_SUITE_P(Strategies, Floor,
                         ::testing::Values(Case{2, ipc::WaitStrategy::spin}, Case{3, ipc::WaitStrategy::spin},
                                           Case{2, ipc::WaitStrategy::adaptive},
                                           Case{3, ipc::WaitStrategy::adaptive},
                                           Case{2, ipc::WaitStrategy::block},
                                           Case{3, ipc::WaitStrategy::yield},
                                           Case{3, ipc::WaitStrategy::spin_block},
                                           Case{2, ipc::WaitStrategy::adaptive, FloorShape::commit},
                                           Case{4, ipc::WaitStrategy::adaptive, FloorShape::commit},
                                           Case{4, ipc::WaitStrategy::block, FloorShape::commit},
                                           Case{6, ipc::WaitStrategy::spin_block, FloorShape::commit}),
                         [](const auto& info) {
                           std::string wait(ipc::to_string(info.param.wait));
                           std::replace(wait.begin(), wait.end(), '-', '_');
                           return std::string(to_string(info.param.shape)) + "_" +
                                  std::to_string(info.param.processes) + "_processes_" + wait;
                         });

// The commit floor of a run has the run's processes: its nodes and the benchmark process whose threads
// are the clients; the token reaches every one of them (followers outside the majority too).
TEST(FloorSpec, CommitShapeHasTheRunsProcessCount) {
  for (const uint32_t nodes : {1u, 3u, 5u}) {
    FloorSpec spec = commit_floor_spec(nodes);
    EXPECT_EQ(spec.shape, FloorShape::commit);
    EXPECT_EQ(spec.processes, static_cast<int>(nodes) + 1);
    spec.warmup_rounds = 10;
    spec.rounds = 200;
    const FloorResult result = measure_floor(spec);
    EXPECT_EQ(result.participants, static_cast<int>(nodes) + 1) << nodes << " nodes";
    expect_no_children_left();
  }
}

TEST(FloorSpec, BestIsTheLowestMedianOfTheShape) {
  const auto floor = [](FloorShape shape, int processes, uint64_t ns) {
    FloorSpec spec;
    spec.shape = shape;
    spec.processes = processes;
    FloorResult f{spec, Histogram(), processes};
    f.round_trip.record(ns, 10);
    return f;
  };
  const std::vector<FloorResult> floors{floor(FloorShape::commit, 4, 900), floor(FloorShape::commit, 4, 300),
                                        floor(FloorShape::ring, 4, 100), floor(FloorShape::commit, 6, 50)};
  EXPECT_EQ(best_floor(floors, FloorShape::commit, 4), &floors[1]);
  EXPECT_EQ(best_floor(floors, FloorShape::ring, 4), &floors[2]);
  EXPECT_EQ(best_floor(floors, FloorShape::ring, 2), nullptr);
}

TEST(FloorSpec, RejectsBadSpecs) {
  FloorSpec spec;
  spec.processes = 1;
  EXPECT_THROW(measure_floor(spec), std::invalid_argument);
  spec.processes = kMaxFloorProcesses + 1;
  EXPECT_THROW(measure_floor(spec), std::invalid_argument);
  spec.processes = 2;
  spec.rounds = 0;
  EXPECT_THROW(measure_floor(spec), std::invalid_argument);
}

}  // namespace
}  // namespace shmraft::bench
