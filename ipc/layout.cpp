#include "ipc/layout.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <stdexcept>

#include "ipc/counters.h"
#include "ipc/fault.h"
#include "ipc/leader.h"
#include "ipc/liveness.h"
#include "ipc/progress.h"
#include "ipc/request_signals.h"
#include "ipc/ring.h"

namespace shmraft::ipc {

namespace {
constexpr std::size_t kPageSize = 4096;

constexpr std::size_t align_up(std::size_t value, std::size_t alignment) noexcept {
  return (value + alignment - 1) / alignment * alignment;
}

std::string human_bytes(uint64_t bytes) {
  char text[32];
  if (bytes >= (uint64_t{1} << 20) && bytes % (uint64_t{1} << 20) == 0)
    std::snprintf(text, sizeof text, "%llu MiB", static_cast<unsigned long long>(bytes >> 20));
  else if (bytes >= (uint64_t{1} << 20))
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  else if (bytes >= 1024 && bytes % 1024 == 0)
    std::snprintf(text, sizeof text, "%llu KiB", static_cast<unsigned long long>(bytes >> 10));
  else
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  return text;
}

void check_capacity(const char* field, uint64_t capacity) {
  if (!valid_ring_capacity(capacity))
    throw std::invalid_argument(std::string(field) + " " + std::to_string(capacity) +
                                " is not a power of two between " + std::to_string(kMinRingCapacity) +
                                " and " + std::to_string(kMaxRingCapacity));
}
}  // namespace

ClusterId ClusterId::random() {
  std::random_device source;  // getrandom(2) on Linux
  ClusterId id;
  for (std::size_t i = 0; i < id.bytes.size(); i += 4) {
    const uint32_t word = source();
    for (std::size_t k = 0; k < 4; ++k) id.bytes[i + k] = static_cast<uint8_t>(word >> (8 * k));
  }
  return id;
}

std::optional<ClusterId> ClusterId::from_hex(std::string_view hex) noexcept {
  if (hex.size() != 32) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  ClusterId id;
  for (std::size_t i = 0; i < 16; ++i) {
    const int high = nibble(hex[2 * i]), low = nibble(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    id.bytes[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return id;
}

std::string ClusterId::to_hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (uint8_t b : bytes) {
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  return hex;
}

SegmentConfig SegmentConfig::settled() const noexcept {
  SegmentConfig config = *this;
  if (config.max_nodes == 0) config.max_nodes = std::max(kDefaultMaxNodes, node_count);
  return config;
}

void SegmentConfig::validate() const {
  if (node_count < 1 || node_count > kMaxNodes)
    throw std::invalid_argument("node count " + std::to_string(node_count) + " is outside [1, " +
                                std::to_string(kMaxNodes) + "]");
  const uint32_t room = settled().max_nodes;
  if (room < node_count || room > kMaxNodes)
    throw std::invalid_argument("max nodes " + std::to_string(room) + " is outside [" +
                                std::to_string(node_count) + " (the node count), " +
                                std::to_string(kMaxNodes) + "]");
  if (client_slots > kMaxClientSlots)
    throw std::invalid_argument("client slots " + std::to_string(client_slots) + " is outside [0, " +
                                std::to_string(kMaxClientSlots) + "]");
  check_capacity("peer ring capacity", peer_ring_capacity);
  check_capacity("client ring capacity", client_ring_capacity);
}

SegmentLayout SegmentLayout::compute(const SegmentConfig& config) {
  config.validate();
  SegmentLayout l;
  l.config = config.settled();
  const std::size_t n = l.config.max_nodes, slots = config.client_slots;
  l.peer_rings = static_cast<uint32_t>(n * (n - 1));
  l.client_rings = static_cast<uint32_t>(2 * n * slots);
  std::size_t at = align_up(sizeof(SegmentHeader), kCacheLine);
  l.counters_offset = at;
  at += n * sizeof(NodeCounters);
  l.liveness_offset = at;
  at += n * sizeof(NodeLiveness);
  l.progress_offset = at;
  at += n * sizeof(ProgressCounter);
  l.death_cells_offset = at;
  at = align_up(at + n * n * sizeof(DeathCell), kCacheLine);
  l.leader_offset = at;
  at += sizeof(LeaderRecord);
  l.faults_offset = at;
  at += n * n * sizeof(LinkFault);
  l.doorbells_offset = at;
  at += (n + slots) * sizeof(Doorbell);
  l.client_slots_offset = at;
  at += slots * sizeof(ClientSlotState);
  l.request_signals_offset = at;
  l.request_signals_stride =
      align_up(request_signal_words(config.client_slots) * sizeof(uint64_t), kCacheLine);
  at += n * l.request_signals_stride;
  l.ring_controls_offset = at;
  at += (std::size_t{l.peer_rings} + l.client_rings) * sizeof(RingControl);
  l.peer_buffers_offset = align_up(at, kPageSize);
  const std::size_t client_rings_per_kind = n * slots;
  l.request_buffers_offset = l.peer_buffers_offset + l.peer_rings * config.peer_ring_capacity;
  l.response_buffers_offset = l.request_buffers_offset + client_rings_per_kind * config.client_ring_capacity;
  l.total_size = l.response_buffers_offset + client_rings_per_kind * config.client_ring_capacity;
  return l;
}

uint32_t SegmentLayout::peer_ring(uint32_t from, uint32_t to) const {
  const uint32_t n = config.max_nodes;
  if (!valid_node(from) || !valid_node(to) || from == to)
    throw std::out_of_range("no peer ring from node " + std::to_string(from) + " to node " +
                            std::to_string(to) + ": node ids are 1.." + std::to_string(n) + ", distinct");
  const uint32_t f = slot_of(from), t = slot_of(to);
  return f * (n - 1) + (t < f ? t : t - 1);
}

uint32_t SegmentLayout::request_ring(uint32_t slot, uint32_t node) const {
  if (slot >= config.client_slots || !valid_node(node))
    throw std::out_of_range("no request ring from client slot " + std::to_string(slot) + " to node " +
                            std::to_string(node) + " (" + std::to_string(config.client_slots) +
                            " slots, node ids 1.." + std::to_string(config.max_nodes) + ")");
  return peer_rings + slot * config.max_nodes + slot_of(node);
}

uint32_t SegmentLayout::response_ring(uint32_t node, uint32_t slot) const {
  if (slot >= config.client_slots || !valid_node(node))
    throw std::out_of_range("no response ring from node " + std::to_string(node) + " to client slot " +
                            std::to_string(slot) + " (" + std::to_string(config.client_slots) +
                            " slots, node ids 1.." + std::to_string(config.max_nodes) + ")");
  return peer_rings + config.client_slots * config.max_nodes + slot * config.max_nodes + slot_of(node);
}

std::size_t SegmentLayout::ring_control_offset(uint32_t ring) const noexcept {
  return ring_controls_offset + std::size_t{ring} * sizeof(RingControl);
}

std::size_t SegmentLayout::ring_buffer_offset(uint32_t ring) const noexcept {
  // Request and response rings are numbered consecutively after the peer rings, and so are their
  // buffers: request buffers directly follow the peer buffers.
  if (ring < peer_rings) return peer_buffers_offset + std::size_t{ring} * config.peer_ring_capacity;
  return request_buffers_offset + std::size_t{ring - peer_rings} * config.client_ring_capacity;
}

uint64_t SegmentLayout::ring_capacity(uint32_t ring) const noexcept {
  return ring < peer_rings ? config.peer_ring_capacity : config.client_ring_capacity;
}

std::string SegmentLayout::describe() const {
  const std::size_t n = config.max_nodes, slots = config.client_slots;
  std::string text;
  auto line = [&](const std::string& what, std::size_t bytes) {
    char buffer[160];
    std::snprintf(buffer, sizeof buffer, "  %-56s %12zu B  (%s)\n", what.c_str(), bytes,
                  human_bytes(bytes).c_str());
    text += buffer;
  };
  text += "shared-memory segment layout v" + std::to_string(kLayoutVersion) + ": " +
          std::to_string(config.node_count) + " nodes (room for " + std::to_string(n) + "), " +
          std::to_string(slots) + " client slots\n";
  line("header, counters, liveness, faults, doorbells, slots, controls", peer_buffers_offset);
  line(std::to_string(peer_rings) + " peer rings x " + human_bytes(config.peer_ring_capacity),
       peer_rings * config.peer_ring_capacity);
  line(std::to_string(n * slots) + " request rings x " + human_bytes(config.client_ring_capacity),
       n * slots * config.client_ring_capacity);
  line(std::to_string(n * slots) + " response rings x " + human_bytes(config.client_ring_capacity),
       n * slots * config.client_ring_capacity);
  line("total", total_size);
  return text;
}

std::size_t segment_size(const SegmentConfig& config) {
  return SegmentLayout::compute(config).total_size;
}

}  // namespace shmraft::ipc
