// sim_replay: runs one seed of one simulator profile and prints its transcript and outcome.
//   sim_replay --profile churn --seed 42 [--messages] [--quiet]
// Exit status 0 when every invariant held, 1 on a violation, 2 on bad arguments.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "tests/sim/cluster_sim.h"
#include "tests/sim/sim_profile.h"

int main(int argc, char** argv) {
  using namespace shmraft::sim;
  CLI::App app{"Replay one seed of the shmraft cluster simulator with a transcript"};
  std::string profile_name = "three";
  uint64_t seed = 0;
  bool messages = false;
  bool quiet = false;
  bool list = false;
  app.add_option("--profile", profile_name, "simulator profile (see --list)");
  app.add_option("--seed", seed, "seed to replay");
  app.add_flag("--messages", messages, "also print every delivered message");
  app.add_flag("--quiet", quiet, "print only the outcome");
  app.add_flag("--list", list, "list the profiles and exit");
  CLI11_PARSE(app, argc, argv);

  if (list) {
    for (const SimProfile& profile : sim_profiles()) {
      std::cout << profile.name << ": " << profile.nodes << " nodes, " << profile.chaos_ticks
                << " chaos ticks" << (profile.pre_vote ? ", pre-vote" : "")
                << (profile.check_quorum ? ", check-quorum" : "")
                << (profile.broadcast_commit ? "" : ", lazy commit broadcast")
                << (profile.testing_faults.commit_previous_term_by_counting ? ", Figure 8 bug" : "")
                << (profile.send_before_persist ? ", acknowledges before persisting (bug)" : "");
      if (profile.storage_fault > 0) {
        std::cout << ", storage faults:";
        for (const StorageFault fault : profile.storage_fault_kinds) std::cout << " " << to_string(fault);
        if (!profile.detect_lost_storage) std::cout << " (not detected: bug)";
      }
      std::cout << "\n";
    }
    return 0;
  }
  const SimProfile* profile = nullptr;
  try {
    profile = &sim_profile(profile_name);
  } catch (const std::invalid_argument& error) {
    std::cerr << "sim_replay: " << error.what() << "\n";
    return 2;
  }
  const SimResult result = ClusterSim(*profile, seed, quiet ? nullptr : &std::cout, messages).run();
  const SimStats& stats = result.stats;
  std::cout << "profile " << result.profile << " seed " << result.seed << ": ";
  if (result.ok()) {
    std::cout << "ok; " << stats.ticks << " ticks, " << stats.leader_terms << " leader terms, "
              << stats.acknowledged << "/" << stats.proposals << " writes acknowledged, commit index "
              << stats.commit_index << ", leader " << stats.ticks_to_leader_after_heal
              << " ticks after healing, converged after " << stats.ticks_to_converge_after_heal << "\n";
    return 0;
  }
  std::cout << invariant_name(result.violation->invariant) << " broken at tick " << result.violation->tick
            << ": " << result.violation->detail << "\n";
  return 1;
}
