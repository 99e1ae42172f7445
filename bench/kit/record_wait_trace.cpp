// Records this host's wait trace (bench/kit/wait_trace.h) to standard output, for the learner's tests:
//     build/release/bench/kit/record_wait_trace [--nodes 3] [--rounds 20000] >
//     tests/benchkit/wait_traces/NAME.txt
#include <CLI/CLI.hpp>
#include <cstdio>

#include "bench/kit/wait_trace.h"

int main(int argc, char** argv) {
  CLI::App app("Record the cost of each idle step of the adaptive wait on this host");
  uint32_t nodes = 3;
  uint64_t rounds = 20'000;
  app.add_option("--nodes", nodes, "Cluster shape: the commit round of this many nodes")
      ->check(CLI::Range(1, 15));
  app.add_option("--rounds", rounds, "Rounds per step (each step stops after 2 s)")
      ->check(CLI::Range(100, 10'000'000));
  CLI11_PARSE(app, argc, argv);
  std::fputs(to_text(shmraft::bench::record_wait_trace(nodes, rounds)).c_str(), stdout);
  return 0;
}
