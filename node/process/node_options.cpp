#include "node/process/node_options.h"

#include <spdlog/common.h>

#include <CLI/CLI.hpp>
#include <stdexcept>
#include <string>

namespace shmraft::node {

std::string_view to_string(TransportKind kind) noexcept {
  return kind == TransportKind::tcp ? "tcp" : "shm";
}

void add_node_flags(CLI::App& app, NodeOptions& options) {
  app.add_option("--cluster", options.cluster, "Cluster name (its shared-memory segment)")->required();
  app.add_option("--node", options.node, "This node's id in the cluster, 1..N")
      ->required()
      ->check(CLI::PositiveNumber);
  app.add_option("--data-dir", options.data_dir, "Node directory: log, hard state, snapshot, node.log")
      ->required();
  app.add_option_function<std::string>(
      "--cluster-id",
      [&options](const std::string& hex) {
        options.cluster_id = ipc::ClusterId::from_hex(hex);
        if (!options.cluster_id) throw CLI::ValidationError("--cluster-id", "expected 32 hex digits");
      },
      "Refuse to attach to a segment with another cluster id (32 hex digits)");

  // Enums go through their own parsers (CLI11 2.1 cannot default-print these enums); a bad value
  // becomes a CLI11 validation error naming the flag.
  app.add_option_function<std::string>(
         "--fsync",
         [&options](const std::string& text) {
           try {
             options.fsync = storage::parse_durability(text);
           } catch (const std::invalid_argument& e) {
             throw CLI::ValidationError("--fsync", e.what());
           }
         },
         "Durability: none | batch (one msync per Ready) | always")
      ->default_str(std::string(storage::to_string(options.fsync)));
  app.add_option_function<std::string>(
         "--wait",
         [&options](const std::string& text) {
           try {
             options.wait = ipc::parse_wait_strategy_or_throw(text);
           } catch (const std::invalid_argument& e) {
             throw CLI::ValidationError("--wait", e.what());
           }
         },
         "Wait strategy: " + ipc::wait_strategy_names())
      ->default_str(std::string(ipc::to_string(options.wait)));
  app.add_option("--spin-us", options.spin_us, "adaptive waiting: microseconds to spin before sleeping")
      ->check(CLI::Range(0u, 1'000'000u))
      ->capture_default_str();
  app.add_option_function<std::string>(
         "--transport",
         [&options](const std::string& text) {
           if (text == "shm")
             options.transport = TransportKind::shm;
           else if (text == "tcp")
             options.transport = TransportKind::tcp;
           else
             throw CLI::ValidationError("--transport", "'" + text + "' is not one of shm, tcp");
         },
         "Peer transport: shm | tcp (loopback)")
      ->default_str(std::string(to_string(options.transport)));

  app.add_option("--tick-us", options.tick_us, "Microseconds per Raft tick")
      ->check(CLI::Range(100u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--election-ticks", options.election_ticks,
                 "Election timeout in ticks (randomized in [n, 2n))")
      ->check(CLI::Range(2u, 100'000u))
      ->capture_default_str();
  app.add_option("--heartbeat-ticks", options.heartbeat_ticks, "Leader heartbeat interval in ticks")
      ->check(CLI::Range(1u, 100'000u))
      ->capture_default_str();
  app.add_option("--stall-us", options.stall_us,
                 "Suspect the leader once its progress counter stood still this many microseconds and the "
                 "kernel says its process is stopped (SIGSTOP; a starved or sleeping one is not suspected): "
                 "a pre-election at once, as after its death; 0: off")
      ->check(CLI::Range(0u, 10'000'000u))
      ->capture_default_str();
  app.add_flag("--eager-commit", options.eager_commit,
               "Send every new commit index to the followers at once (default: with the next append or "
               "heartbeat; followers then apply up to a heartbeat later, which no client waits for)");
  app.add_flag("--check-invariants", options.check_invariants,
               "Check the Raft core's node-local invariants after every Ready (commit <= last index, terms "
               "never fall, one vote per term, apply in order); exit naming the rule on a violation");
  app.add_flag("--realtime", options.realtime,
               "Once recovered, run the loop at real-time policy SCHED_RR 1, so that it preempts normal "
               "processes (a restarting node, a build) the moment it is woken; needs CAP_SYS_NICE or "
               "RLIMIT_RTPRIO >= 2, else the node says so in its log and runs at normal policy");
  app.add_option_function<uint64_t>(
      "--seed", [&options](uint64_t seed) { options.seed = seed; },
      "Seed of the election timer randomness (default: from the clock and pid)");
  app.add_option("--snapshot-bytes", options.snapshot_bytes,
                 "Snapshot the KV state (in a forked child, off the node loop) and compact the log after "
                 "this many applied log bytes")
      ->check(CLI::Range(uint64_t{1} << 10, uint64_t{1} << 40))
      ->capture_default_str();
  // Hidden: a script that still passes the old threshold learns why it is gone rather than "not expected".
  app.add_option_function<std::string>("--fork-snapshot-bytes",
                                       [](const std::string&) {
                                         throw CLI::ValidationError(
                                             "--fork-snapshot-bytes",
                                             "was removed: every snapshot is now written by a forked child, "
                                             "whatever its size (drop the flag)");
                                       })
      ->group("");
  app.add_option("--segment-bytes", options.segment_bytes, "Size of each preallocated log segment file")
      ->check(CLI::Range(uint64_t{4} << 10, uint64_t{1} << 30))
      ->capture_default_str();

  app.add_option("--log-level", options.log_level, "trace | debug | info | warn | error | critical | off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--log-file", options.log_file, "Log file (default <data-dir>/node.log)");
}

void validate(const NodeOptions& options) {
  if (options.cluster.empty()) throw std::invalid_argument("--cluster must not be empty");
  if (options.data_dir.empty()) throw std::invalid_argument("--data-dir must not be empty");
  if (options.heartbeat_ticks >= options.election_ticks)
    throw std::invalid_argument("--heartbeat-ticks (" + std::to_string(options.heartbeat_ticks) +
                                ") must be below --election-ticks (" +
                                std::to_string(options.election_ticks) + ")");
  if (options.tick_us < 100) throw std::invalid_argument("--tick-us must be at least 100");
  if (options.realtime &&
      (options.wait == ipc::WaitStrategy::spin || options.wait == ipc::WaitStrategy::yield))
    throw std::invalid_argument("--realtime with --wait " + std::string(ipc::to_string(options.wait)) +
                                ": a real-time loop that never sleeps would hold its CPU against every "
                                "other process; use adaptive, spin-block or block");
  if (spdlog::level::from_str(options.log_level) == spdlog::level::off && options.log_level != "off")
    throw std::invalid_argument("--log-level '" + options.log_level + "' is not a spdlog level");
}

}  // namespace shmraft::node
