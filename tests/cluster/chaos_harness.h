#pragma once
// Runs `shmraft chaos` for a test: a unique cluster name, a seed that is printed with the command that
// replays it (SHMRAFT_SEED=<n> reruns the same seed), and the data removed afterwards even on failure.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/cluster/harness.h"

namespace shmraft::cluster_test {

// The "membership:" line of a run with --membership: changes carried out.
struct MembershipCounts {
  uint32_t adds = 0;
  uint32_t removes = 0;
  uint32_t leader_removes = 0;
  uint32_t replaces = 0;
  uint32_t transfers = 0;
};

struct ChaosRun {
  CommandResult result;
  uint64_t seed = 0;
  uint32_t kills = 0;  // from the "faults:" line
  std::optional<MembershipCounts> membership;
  std::vector<uint32_t> members;  // from the "caught up" line: the final voters and learners
  std::string cluster;
  std::string data_root;

  bool passed() const { return result.exit_code == 0 && result.out.find("chaos: PASS") != std::string::npos; }
};

// `shmraft chaos -c <unique> --data-dir <root> --seed <seed> <args...>`; keeps the data (for tests that
// read it) only if `keep_data`, and then the caller removes ChaosRun::data_root.
ChaosRun run_chaos(const std::string& label, const std::vector<std::string>& args, bool keep_data = false);

}  // namespace shmraft::cluster_test
