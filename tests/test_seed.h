#pragma once
// Seeds for randomized tests: SHMRAFT_SEED replays a run, otherwise a fresh seed is drawn. The seed and
// the command that replays it are printed, and attached to every failure via the returned trace text.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

namespace shmraft::testing {

inline uint64_t test_seed() {
  if (const char* env = std::getenv("SHMRAFT_SEED")) return std::strtoull(env, nullptr, 10);
  std::random_device device;
  return (uint64_t{device()} << 32) | device();
}

inline std::string replay_command(uint64_t seed) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return "SHMRAFT_SEED=" + std::to_string(seed) + " " + ::testing::internal::GetArgvs().front() +
         " --gtest_filter=" + info->test_suite_name() + "." + info->name();
}

// Usage: `const uint64_t seed = shmraft::testing::announce_seed(); SCOPED_TRACE(replay_command(seed));`
inline uint64_t announce_seed() {
  const uint64_t seed = test_seed();
  std::cout << "seed " << seed << " (replay: " << replay_command(seed) << ")\n";
  return seed;
}

}  // namespace shmraft::testing
