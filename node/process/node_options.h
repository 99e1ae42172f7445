#pragma once
// Everything one node process is started with, and the `shmraft node` flags that fill it in.
//
// The launcher registers the flags on its hidden `node` subcommand and then calls run():
//     NodeOptions options;
//     CLI::App* sub = app.add_subcommand("node", "")->group("");
//     add_node_flags(*sub, options);
//     sub->callback([&] { std::exit(shmraft::node::run(options)); });
//
// Node numbering: --node is the node's id, 1..N, the same in ipc, the Raft core, the launcher and the
// client (directory node<id>); 0 means "no node" everywhere.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "ipc/layout.h"
#include "ipc/wait.h"
#include "node/storage/node_storage.h"

namespace CLI {
class App;
}

namespace shmraft::node {

// `--stall-us` unless given. Short, since only a leader the kernel reports stopped is suspected
// (ipc/process_state.h); a starved or busy one, however long it stands still, is left to the election
// timeout. Measured (issue 13, docs/design.md §3): no suspicion under the 64 x 16-client bench; leader
// SIGSTOP window p50 2.3-4.9 ms (1 ms: no faster; 5 and 10 ms: 7-10 ms).
inline constexpr uint32_t kDefaultStallUs = 2000;

enum class TransportKind : uint8_t { shm, tcp };

struct NodeOptions {
  std::string cluster;                       // segment name (ipc::Segment::attach)
  uint32_t node = 0;                         // node id, 1..N (0 = not given)
  std::filesystem::path data_dir;            // NodeStorage directory (created if its parent exists)
  std::optional<ipc::ClusterId> cluster_id;  // when set, the segment must carry this id

  storage::Durability fsync = storage::Durability::batch;
  ipc::WaitStrategy wait = ipc::kDefaultWaitStrategy;
  uint32_t spin_us = ipc::kDefaultSpinUs;  // adaptive: spin this long before sleeping (tcp: before epoll)
  TransportKind transport = TransportKind::shm;

  // Timing. One tick every tick_us; elections after [election_ticks, 2*election_ticks) quiet ticks.
  // Defaults: 5 ms ticks, elections after 150-300 ms, heartbeats every 30 ms.
  uint32_t tick_us = 5000;
  uint32_t election_ticks = 30;
  uint32_t heartbeat_ticks = 6;
  // Frozen or starved leaders (ipc/progress.h): a follower whose leader's progress counter stood still
  // this long, past the leader's own idle deadline, starts a pre-election as after its death. 0: off.
  uint32_t stall_us = kDefaultStallUs;
  // raft::Config::broadcast_commit. Off by default: followers learn a commit index from the next
  // append or heartbeat, so at low load each entry wakes a follower once instead of twice.
  bool eager_commit = false;
  std::optional<uint64_t> seed;  // election randomness; default: from the clock and the pid
  // Check the core's node-local invariants after every Ready (raft/ready_invariants.h); a violation
  // stops the node with the rule it broke. Off by default: it costs a few compares per Ready.
  bool check_invariants = false;
  // Once recovered, the loop runs at SCHED_RR (realtime.h); refused with the spin and yield waits.
  bool realtime = false;

  // Take a KV snapshot (written by a forked child: forked_snapshot.h) and compact the log once this many
  // log bytes were applied since the last one. Each fork costs the loop a copy-on-write fault per page of
  // state it then writes (~3,500 for a 15 MiB KV, 15-32 us each on a VM with shadowed page tables) and a
  // child's CPU on the same cores, on every node at the same index: at 64 MiB a busy cluster forked every
  // ~1.1 s per node and its commit p99 tripled. 256 MiB (four log segments) pays that a quarter as often.
  uint64_t snapshot_bytes = uint64_t{256} << 20;
  uint64_t segment_bytes = uint64_t{64} << 20;  // preallocated log segment size
  // Testing only (no flag): the installer's thread waits this long before it restores a received
  // snapshot, so that tests can kill a node in the middle of an install off the loop.
  uint32_t testing_install_delay_ms = 0;

  std::string log_level = "info";  // spdlog level name: trace debug info warn error critical off
  std::filesystem::path log_file;  // default <data_dir>/node.log

  std::filesystem::path effective_log_file() const {
    return log_file.empty() ? data_dir / "node.log" : log_file;
  }
};

// Registers every flag above on `app` (required: --cluster, --node, --data-dir), with validators so a
// bad value is rejected by CLI11 with a message naming the flag.
void add_node_flags(CLI::App& app, NodeOptions& options);

// Checks what the flags cannot check one by one (e.g. heartbeat < election). Throws std::invalid_argument.
void validate(const NodeOptions& options);

std::string_view to_string(TransportKind kind) noexcept;

}  // namespace shmraft::node
