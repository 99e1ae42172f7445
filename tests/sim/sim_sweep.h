#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tests/sim/cluster_sim.h"
#include "tests/sim/sim_profile.h"

namespace shmraft::sim {

// The outcome of running many seeds of one profile: stops at the first failing seed.
struct SweepResult {
  std::string profile;
  uint64_t seeds_run = 0;
  std::optional<SimResult> first_failure;
  SimStats totals;                    // sums over the seeds (ticks_to_* hold the maximum instead)
  uint64_t seeds_with_snapshots = 0;  // seeds in which some follower installed a snapshot
};

// Runs seeds [first_seed, first_seed + count). If SHMRAFT_SIM_SEED is set, runs only that seed (the
// replay path printed on failure).
SweepResult run_sweep(const SimProfile& profile, uint64_t first_seed, uint64_t count);

// How to replay a failing run: the sim_replay command (with a transcript) and, given the running
// GoogleTest's full name, the command that reruns just that seed in this binary.
std::string replay_instructions(const SimResult& failure, const std::string& test_name = "");

// One paragraph: the failure with its replay commands, or what the seeds exercised.
std::string describe(const SweepResult& sweep, const std::string& test_name = "");

}  // namespace shmraft::sim
