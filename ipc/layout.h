#pragma once
// What is where in a cluster's shared-memory segment, computed from a SegmentConfig alone, so every
// process that reads the header computes the same offsets (DESIGN §2).
//
//   SegmentHeader                 magic, layout version, cluster id, config, creator, size
//   NodeCounters   x nodes        (every per-node part has max_nodes slots: room for nodes that join)
//   NodeLiveness   x nodes        claim owner and incarnation (liveness.h)
//   ProgressCounter x nodes       progress counters, a cache line each (progress.h)
//   DeathCell      x nodes*nodes  robust futex words, [watcher][owner] (liveness.h)
//   LeaderRecord                  who leads, in which term (leader.h)
//   LinkFault      x nodes*nodes  (directed; the diagonal is unused)
//   Doorbell       x nodes, then x client slots
//   ClientSlotState x client slots
//   request signals x nodes        a bit per client slot, a cache-line-aligned word array per node
//   RingControl    x rings        peer rings, then request rings, then response rings
//   (page aligned) ring buffers   same order; peer_ring_capacity or client_ring_capacity bytes each
//
// Rings: one per directed node pair (m*(m-1), m = max_nodes); per client slot, one request ring to each
// node and one response ring from each node back (2*m per slot).
//
// Nodes are numbered 1 .. max_nodes throughout shmraft (ipc, the Raft core, the client, the counters,
// the CLI), 0 meaning "no node", as etcd's raft and NuRaft number servers. The cluster starts with voters
// 1 .. node_count; ids above that are room for nodes added later (issue 12). Client slots are 0-based
// array indices, 0 .. client_slots-1. slot_of() below is the one place a node id becomes an array slot.
#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ipc/doorbell.h"

namespace shmraft::ipc {

inline constexpr uint64_t kSegmentMagic = 0x2174666172686d73ull;  // "shmraft!" little-endian
// 2: liveness claims, death cells, progress counters, leader record; named TCP port and counters.
// 3: node ids 1..N: the leader record and the `leader` counter hold the id itself (0 = none).
// 4: the fail-over stamps in the node counters (death_taken_ns, campaign_ns, leader_since_ns).
// 5: request signals (request_signals.h) and a client slot's shared reply doorbell (reply_bell): a node
//    of version 4 would neither raise nor honour them.
// 6: room for max_nodes nodes (SegmentConfig::max_nodes), of which the first node_count are the initial
//    voters: a version-5 reader would take the initial voters for every slot there is.
// 7: NodeCounters take five cache lines (votes_granted, issue 14): a version-6 reader would find every
//    node's counters but the first at the wrong offset.
// 8: a progress counter's work count (progress.h): a version-7 node would never move it, and its
//    watchers would hold it to every sleep it announced, through every request it took.
inline constexpr uint32_t kLayoutVersion = 8;

inline constexpr uint32_t kMaxNodes = 16;
inline constexpr uint32_t kMaxClientSlots = 4096;

// The array slot (0 .. max_nodes-1) of node `id` (1 .. max_nodes) in every per-node part of the
// segment. Callers check the range first (Segment::check_node, SegmentLayout's ring numbering).
constexpr uint32_t slot_of(uint32_t id) noexcept {
  return id - 1;
}

struct ClusterId {
  std::array<uint8_t, 16> bytes{};

  static ClusterId random();  // from the kernel's random source
  // 32 hex digits; nullopt when malformed.
  static std::optional<ClusterId> from_hex(std::string_view hex) noexcept;
  std::string to_hex() const;
  friend bool operator==(const ClusterId&, const ClusterId&) = default;
};

inline constexpr uint32_t kDefaultMaxNodes = 7;

struct SegmentConfig {
  uint32_t node_count = 3;  // the initial voters, 1 .. node_count
  // Node slots, 1 .. max_nodes (>= node_count). 0: the default, kDefaultMaxNodes or node_count if more
  // (SegmentLayout::compute settles it; a segment's header holds the settled value).
  uint32_t max_nodes = 0;
  uint32_t client_slots = 64;
  uint64_t peer_ring_capacity = uint64_t{1} << 20;     // node -> node: batches of log entries
  uint64_t client_ring_capacity = uint64_t{32} << 10;  // client <-> node: one request / reply at a time

  // Throws std::invalid_argument naming the bad field and its allowed range.
  void validate() const;
  // This config with max_nodes settled (never 0).
  SegmentConfig settled() const noexcept;
  friend bool operator==(const SegmentConfig&, const SegmentConfig&) = default;
};

// A client slot's ownership word in the segment. owner_pid 0 = free.
struct alignas(kCacheLine) ClientSlotState {
  std::atomic<int32_t> owner_pid{0};
  std::atomic<uint32_t> generation{0};  // +1 per claim, so replies to a previous owner can be told apart
  // 1 + the slot whose doorbell a node rings for this slot's replies, so one thread driving many client
  // slots sleeps on one bell; 0: the slot's own. Set by the owner before its first request, reset on claim.
  std::atomic<uint32_t> reply_bell{0};
};

// The header. The first five fields keep their offsets in every layout version, so a reader of any
// version can tell "not ours / other version / still being created" and who created it.
struct SegmentHeader {
  std::atomic<uint64_t> magic;  // stored last, with release, when the segment is fully initialised
  uint32_t layout_version;
  uint32_t header_size;
  int32_t creator_pid;
  uint32_t reserved0;
  uint64_t created_unix_ns;
  // ---- layout version 1 ----
  uint64_t total_size;
  ClusterId cluster_id;
  SegmentConfig config;
  char cluster_name[64];  // NUL-terminated
};

struct SegmentLayout {
  SegmentConfig config;
  uint32_t peer_rings = 0;    // m*(m-1), m = max_nodes
  uint32_t client_rings = 0;  // 2*m*client_slots
  std::size_t counters_offset = 0;
  std::size_t liveness_offset = 0;
  std::size_t progress_offset = 0;
  std::size_t death_cells_offset = 0;
  std::size_t leader_offset = 0;
  std::size_t faults_offset = 0;
  std::size_t doorbells_offset = 0;
  std::size_t client_slots_offset = 0;
  std::size_t request_signals_offset = 0;
  std::size_t request_signals_stride = 0;  // bytes per node
  std::size_t ring_controls_offset = 0;
  std::size_t peer_buffers_offset = 0;
  std::size_t request_buffers_offset = 0;
  std::size_t response_buffers_offset = 0;
  std::size_t total_size = 0;

  // Validates the config (std::invalid_argument) and lays it out.
  static SegmentLayout compute(const SegmentConfig& config);

  bool valid_node(uint32_t id) const noexcept { return id >= 1 && id <= config.max_nodes; }

  // Ring numbering shared by controls and buffers, from node ids 1..max_nodes and client slots. Throw
  // std::out_of_range for bad ids.
  uint32_t peer_ring(uint32_t from, uint32_t to) const;
  uint32_t request_ring(uint32_t slot, uint32_t node) const;   // client slot -> node
  uint32_t response_ring(uint32_t node, uint32_t slot) const;  // node -> client slot
  std::size_t ring_control_offset(uint32_t ring) const noexcept;
  std::size_t ring_buffer_offset(uint32_t ring) const noexcept;
  uint64_t ring_capacity(uint32_t ring) const noexcept;

  // One line per part with sizes, and the total, e.g. for `shmraft up` to print on creation.
  std::string describe() const;
};

// Bytes of the segment for this config (validates it).
std::size_t segment_size(const SegmentConfig& config);

}  // namespace shmraft::ipc
