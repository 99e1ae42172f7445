#pragma once
// `shmraft bench --failover` (issue 13) and `shmraft bench --reconfigure` (issue 12): what happens to the
// cluster under load, how often, and the checks that run before anything starts. Both are events of the
// same driver (failover_driver.h): a signal to a node, or a membership change asked of the leader.
//
//   shmraft bench --failover                         20 SIGKILLs of the leader, 3 nodes, 1 client
//   shmraft bench --failover --signal stop           SIGSTOP the leader, SIGCONT it once a new one commits
//   shmraft bench --failover --victim follower --clients 16
//   shmraft bench --sweep --failover --sweep-nodes 3,5 --kills 5
//   shmraft bench --reconfigure transfer             10 leadership transfers, to each follower in turn
//   shmraft bench --reconfigure add --changes 5      5 times: start node N+1, add it as a learner, promote
//                                                    it (measured), then remove it and stop it
//   shmraft bench --failover --victim follower --restart-cpu shared
//                                                    restart the killed node wherever the scheduler puts it
//                                                    (default: on a CPU of its own until it recovered)
//   shmraft bench --failover --slow-ops-us 1000      under each event line, the phases of every operation
//                                                    slower than 1 ms that completed during it
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/kit/bench_config.h"

namespace shmraft::bench {

struct FailoverSpec {
  bool enabled = false;         // --failover
  uint32_t kills = 20;          // events, each one signal to one node
  std::string signal = "kill";  // kill: SIGKILL, restart after the new leader commits; stop: SIGSTOP, SIGCONT
  std::string victim = "leader";  // leader | follower
  // Where a killed node restarts: isolated (a CPU of its own until it has recovered its files,
  // launcher/start_isolation.h) | shared; given on the command line or not (refused with --signal stop).
  std::string restart_cpu = "isolated";
  bool restart_cpu_given = false;
  std::string change;        // --reconfigure: add | transfer; empty: a fail-over run
  uint32_t changes = 10;     // --reconfigure: events, each one change
  uint64_t slow_ops_us = 0;  // report the phases of each operation of an event slower than this; 0: off

  bool reconfigures() const noexcept { return !change.empty(); }
  bool any() const noexcept { return enabled || reconfigures(); }  // the run's window is these events
  uint32_t events() const noexcept { return reconfigures() ? changes : kills; }
  // What each event does: "kill" | "stop" | "add" | "transfer".
  const std::string& cause() const noexcept { return reconfigures() ? change : signal; }
  int signal_number() const noexcept;
};

// The smallest payload that carries the sequence number the read-back checks (16 hex digits).
inline constexpr uint32_t kFailoverMinPayload = 16;
// Under --failover the measured window lasts until the events are done; this is its bound.
inline constexpr std::chrono::hours kFailoverMaxRun{1};

// Registers --failover, --kills, --signal, --victim, --restart-cpu, --reconfigure, --changes, --slow-ops-us
// on `app`.
void add_failover_flags(CLI::App& app, FailoverSpec& spec);

// Throws launcher::UsageError naming the flag when the planned configurations cannot fail over (fewer
// than 3 nodes: one lost must leave a majority; a payload too small for the read-back; no room in the
// segment for a node to add), the options contradict --failover / --reconfigure (--cluster: its nodes
// are not ours to start or restart; --compare; --rate; --duration), --slow-ops-us comes without
// either, or --restart-cpu with --signal stop.
struct FailoverContext {
  bool attached = false;
  bool compare = false;
  bool duration_given = false;
  bool sweep = false;
};
void validate(const FailoverSpec& spec, const std::vector<BenchConfig>& configs,
              const FailoverContext& context);

}  // namespace shmraft::bench
