// The long sweep (label long): 200 000 seeds over the default profiles, weighted towards the churning
// ones, in shards ctest can run one by one.
#include <gtest/gtest.h>

#include <iostream>
#include <ostream>
#include <string>

#include "tests/sim/sim_sweep.h"

namespace shmraft::sim {
namespace {

constexpr uint64_t kSeedsPerShard = 12'500;

struct Shard {
  const char* profile;
  uint64_t first_seed;
};

// Shown by gtest (and ctest -N) instead of the struct's bytes.
void PrintTo(const Shard& shard, std::ostream* out) {
  *out << shard.profile << " seeds " << shard.first_seed << ".." << shard.first_seed + kSeedsPerShard - 1;
}

class SimLongSweep : public ::testing::TestWithParam<Shard> {};

TEST_P(SimLongSweep, InvariantsHoldOnEverySeed) {
  const Shard& shard = GetParam();
  const SweepResult sweep = run_sweep(sim_profile(shard.profile), shard.first_seed, kSeedsPerShard);
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (sweep.first_failure) {
    ADD_FAILURE() << describe(sweep, std::string(info->test_suite_name()) + "." + info->name());
  } else {
    std::cout << describe(sweep) << "\n";
  }
}

// Seeds start above the default run's, so the long sweep adds new schedules instead of repeating them.
INSTANTIATE_TEST_SUITE_P(
    Seeds, SimLongSweep,
    ::testing::Values(Shard{"three", 10'001}, Shard{"lazycommit", 10'001}, Shard{"five", 10'001},
                      Shard{"plain", 10'001}, Shard{"churn", 10'001}, Shard{"churn", 22'501},
                      Shard{"churn3", 10'001}, Shard{"churn3", 22'501}, Shard{"crashy", 10'001},
                      Shard{"members", 10'001}, Shard{"memberschurn", 10'001}, Shard{"lost", 10'001},
                      Shard{"lost5", 10'001}, Shard{"losthardstate", 10'001}, Shard{"lostsuffix", 10'001},
                      Shard{"lostmembers", 10'001}),
    [](const ::testing::TestParamInfo<Shard>& info) {
      return std::string(info.param.profile) + "_" + std::to_string(info.param.first_seed);
    });

}  // namespace
}  // namespace shmraft::sim
