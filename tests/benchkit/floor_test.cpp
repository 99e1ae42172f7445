#include "bench/kit/floor.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

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
};

class Floor : public ::testing::TestWithParam<Case> {};

TEST_P(Floor, TokenCompletesItsRounds) {
  FloorSpec spec;
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
  expect_no_children_left();
}

INSTANTIATE_TEST_SUITE_P(Strategies, Floor,
                         ::testing::Values(Case{2, ipc::WaitStrategy::spin}, Case{3, ipc::WaitStrategy::spin},
                                           Case{2, ipc::WaitStrategy::adaptive},
                                           Case{3, ipc::WaitStrategy::adaptive},
                                           Case{2, ipc::WaitStrategy::block},
                                           Case{3, ipc::WaitStrategy::yield}),
                         [](const auto& info) {
                           return std::to_string(info.param.processes) + "_processes_" +
                                  std::string(ipc::to_string(info.param.wait));
                         });

TEST(FloorSpec, RejectsBadSpecs) {
  FloorSpec spec;
  spec.processes = 1;
  EXPECT_THROW(measure_floor(spec), std::invalid_argument);
  spec.processes = 9;
  EXPECT_THROW(measure_floor(spec), std::invalid_argument);
  spec.processes = 2;
  spec.rounds = 0;
  EXPECT_THROW(measure_floor(spec), std::invalid_argument);
}

}  // namespace
}  // namespace shmraft::bench
