#pragma once
// `shmraft bench --in-leader` on the node side: the benchmark's load run as threads inside the process of
// the node that leads, as NuRaft's benchmark runs its load inside its leader.
//
// The bench starts every node with the hidden `node` flag kInLeaderFlag carrying the load (its
// BenchConfig and the spin). Each node process then runs, beside its own loop and off it, a thread that
// waits until the segment's leader record names its node; the first node to lead claims the load (a file
// created with O_EXCL in the cluster's directory; the others' threads end on seeing it) and runs it
// with the same code and the same client slots and rings as an outside client process would
// (run_client_load), so nothing in the node changes. It meters every node's CPU and sleeps over the
// measured window, and its own client threads' CPU (getrusage RUSAGE_THREAD: it is part of the leader's
// CPU too), then writes an InLeaderResult into its node directory. Leadership that moves during the run
// fails the run (InLeaderResult::error): the clients would follow the new leader, and the figures would
// no longer be those of a load inside the leader.
//
// SIGUSR1 stops the load early (the benchmark's Ctrl-C); the figures so far are still written. When the
// node stops, its load stops with it.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "bench/kit/bench_config.h"
#include "launcher/commands/command.h"

namespace shmraft::bench {

inline constexpr const char* kInLeaderFlag = "--in-leader-load";

struct InLeaderLoad {
  BenchConfig config;
  uint32_t spin_us = 0;  // the clients' adaptive spin
};

// The flag's value (JSON) for `load`, and back. in_leader_load_of throws std::invalid_argument for a
// value that is not one.
std::string in_leader_flag_value(const InLeaderLoad& load);
InLeaderLoad in_leader_load_of(const std::string& flag_value);

// Registers kInLeaderFlag (hidden) on the `node` subcommand, which must already be in `commands`, and
// wraps its run: with the flag, the node runs with the load thread beside it.
void add_in_leader_flag(CLI::App& root, launcher::CommandList& commands);

}  // namespace shmraft::bench
