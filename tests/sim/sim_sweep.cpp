#include "tests/sim/sim_sweep.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>

namespace shmraft::sim {

namespace {

std::optional<uint64_t> seed_from_environment() {
  const char* value = std::getenv("SHMRAFT_SIM_SEED");
  if (value == nullptr || *value == '\0') return std::nullopt;
  char* end = nullptr;
  const unsigned long long seed = std::strtoull(value, &end, 10);
  if (*end != '\0') throw std::invalid_argument(std::string("SHMRAFT_SIM_SEED is not a number: ") + value);
  return seed;
}

std::string own_executable() {
  char path[4096];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
  return length > 0 ? std::string(path, static_cast<size_t>(length)) : std::string("./sim_tests");
}

// sim_replay is built next to the test binaries.
std::string own_directory() {
  const std::string exe = own_executable();
  return exe.substr(0, exe.find_last_of('/'));
}

void accumulate(SimStats& total, const SimStats& run) {
  total.ticks += run.ticks;
  total.leader_terms += run.leader_terms;
  total.proposals += run.proposals;
  total.acknowledged += run.acknowledged;
  total.reads_started += run.reads_started;
  total.reads_answered += run.reads_answered;
  total.transfers += run.transfers;
  total.conf_changes += run.conf_changes;
  total.crashes += run.crashes;
  total.death_signals += run.death_signals;
  total.torn_persists += run.torn_persists;
  total.storage_faults += run.storage_faults;
  total.torn_tails += run.torn_tails;
  total.repairs += run.repairs;
  total.progress_resets += run.progress_resets;
  total.partitions += run.partitions;
  total.compactions += run.compactions;
  total.snapshots_installed += run.snapshots_installed;
  total.commit_index += run.commit_index;
  total.ticks_to_leader_after_heal =
      std::max(total.ticks_to_leader_after_heal, run.ticks_to_leader_after_heal);
  total.ticks_to_converge_after_heal =
      std::max(total.ticks_to_converge_after_heal, run.ticks_to_converge_after_heal);
  total.network.sent += run.network.sent;
  total.network.dropped += run.network.dropped;
  total.network.duplicated += run.network.duplicated;
  total.network.cut += run.network.cut;
  total.network.delivered += run.network.delivered;
}

}  // namespace

SweepResult run_sweep(const SimProfile& profile, uint64_t first_seed, uint64_t count) {
  SweepResult sweep;
  sweep.profile = profile.name;
  if (const std::optional<uint64_t> only = seed_from_environment()) {
    first_seed = *only;
    count = 1;
  }
  for (uint64_t seed = first_seed; seed < first_seed + count; ++seed) {
    SimResult result = ClusterSim(profile, seed).run();
    ++sweep.seeds_run;
    accumulate(sweep.totals, result.stats);
    if (result.stats.snapshots_installed > 0) ++sweep.seeds_with_snapshots;
    if (!result.ok()) {
      sweep.first_failure = std::move(result);
      break;
    }
  }
  return sweep;
}

std::string replay_instructions(const SimResult& failure, const std::string& test_name) {
  std::ostringstream out;
  out << "replay it with a transcript:\n  " << own_directory() << "/sim_replay --profile " << failure.profile
      << " --seed " << failure.seed;
  if (!test_name.empty()) {
    out << "\nor rerun the test on that seed alone:\n  SHMRAFT_SIM_SEED=" << failure.seed << " "
        << own_executable() << " --gtest_filter='" << test_name << "'";
  }
  return out.str();
}

std::string describe(const SweepResult& sweep, const std::string& test_name) {
  std::ostringstream out;
  if (sweep.first_failure) {
    const SimResult& failure = *sweep.first_failure;
    out << "profile " << failure.profile << ", seed " << failure.seed << ": "
        << invariant_name(failure.violation->invariant) << " broken at tick " << failure.violation->tick
        << ": " << failure.violation->detail << "\n"
        << replay_instructions(failure, test_name);
    return out.str();
  }
  const SimStats& t = sweep.totals;
  out << "profile " << sweep.profile << ": " << sweep.seeds_run << " seeds passed; " << t.ticks << " ticks, "
      << t.leader_terms << " leader terms, " << t.acknowledged << "/" << t.proposals
      << " proposals acknowledged, " << t.reads_answered << "/" << t.reads_started << " reads answered, "
      << t.transfers << " transfers, " << t.conf_changes << " membership changes, " << t.crashes
      << " crashes (" << t.torn_persists << " torn persists, " << t.progress_resets << " progress resets, "
      << t.storage_faults << " storage faults (" << t.torn_tails << " torn tails), " << t.repairs
      << " repairs), " << t.death_signals << " death signals, " << t.partitions << " partitions, "
      << t.compactions << " compactions, " << t.snapshots_installed << " snapshots installed (in "
      << sweep.seeds_with_snapshots << " seeds); network: " << t.network.sent << " sent, "
      << t.network.dropped << " dropped, " << t.network.duplicated << " duplicated, " << t.network.cut
      << " cut; worst ticks after healing: leader " << t.ticks_to_leader_after_heal << ", converged "
      << t.ticks_to_converge_after_heal;
  return out.str();
}

}  // namespace shmraft::sim
