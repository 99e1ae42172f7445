#pragma once
// `shmraft bench --failover` (issue 13): what to signal, how often, and the checks that run before
// anything starts.
//
//   shmraft bench --failover                         20 SIGKILLs of the leader, 3 nodes, 1 client
//   shmraft bench --failover --signal stop           SIGSTOP the leader, SIGCONT it once a new one commits
//   shmraft bench --failover --victim follower --clients 16
//   shmraft bench --sweep --failover --sweep-nodes 3,5 --kills 5
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/kit/bench_config.h"

namespace shmraft::bench {

struct FailoverSpec {
  bool enabled = false;
  uint32_t kills = 20;          // events, each one signal to one node
  std::string signal = "kill";  // kill: SIGKILL, restart after the new leader commits; stop: SIGSTOP, SIGCONT
  std::string victim = "leader";  // leader | follower
  int signal_number() const noexcept;
};

// The smallest payload that carries the sequence number the read-back checks (16 hex digits).
inline constexpr uint32_t kFailoverMinPayload = 16;
// Under --failover the measured window lasts until the events are done; this is its bound.
inline constexpr std::chrono::hours kFailoverMaxRun{1};

// Registers --failover, --kills, --signal, --victim on `app`.
void add_failover_flags(CLI::App& app, FailoverSpec& spec);

// Throws launcher::UsageError naming the flag when the planned configurations cannot fail over (fewer
// than 3 nodes: one lost must leave a majority; a payload too small for the read-back) or the options
// contradict --failover (--cluster: its nodes are not ours to restart; --compare; --rate; --duration).
struct FailoverContext {
  bool attached = false;
  bool compare = false;
  bool duration_given = false;
};
void validate(const FailoverSpec& spec, const std::vector<BenchConfig>& configs,
              const FailoverContext& context);

}  // namespace shmraft::bench
