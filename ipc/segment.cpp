#include "ipc/segment.h"

#include <unistd.h>

#include <algorithm>
#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <new>
#include <utility>

namespace shmraft::ipc {

namespace bip = boost::interprocess;

namespace {

constexpr std::string_view kObjectPrefix = "shmraft.";
// Bytes of the header every layout version shares: magic .. created_unix_ns.
constexpr std::size_t kHeaderPrefixSize = offsetof(SegmentHeader, total_size);

// kill(pid, 0) fails with ESRCH only when no such process exists; EPERM means it exists (another user).
bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

std::string hex64(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::string where(std::string_view cluster) {
  return "cluster '" + std::string(cluster) + "' (/dev/shm/" + std::string(kObjectPrefix) +
         std::string(cluster) + ")";
}

// Checks everything attach() needs and returns the layout; throws SegmentError otherwise. `size` is
// the object's size, `base` its mapping (at least kHeaderPrefixSize bytes).
SegmentLayout check_header(std::string_view cluster, const std::byte* base, std::size_t size) {
  const auto& header = *reinterpret_cast<const SegmentHeader*>(base);
  const uint64_t magic = header.magic.load(std::memory_order_acquire);  // pairs with create()'s release
  if (magic == 0)
    throw SegmentError(
        where(cluster) + " is not fully created: its creator, pid " + std::to_string(header.creator_pid) +
        (process_alive(header.creator_pid) ? ", is still creating it"
                                           : ", died while creating it (run `shmraft clean`)"));
  if (magic != kSegmentMagic)
    throw SegmentError(where(cluster) + " is not a shmraft segment (magic " + hex64(magic) + ", expected " +
                       hex64(kSegmentMagic) + ")");
  if (header.layout_version != kLayoutVersion)
    throw SegmentError(where(cluster) + " has layout version " + std::to_string(header.layout_version) +
                       " but this build reads version " + std::to_string(kLayoutVersion) +
                       " (made by another shmraft build; stop that cluster or remove the segment)");
  if (header.header_size != sizeof(SegmentHeader) || size < sizeof(SegmentHeader))
    throw SegmentError(where(cluster) + " has a corrupt header (header size " +
                       std::to_string(header.header_size) + ", object size " + std::to_string(size) + ")");
  SegmentLayout layout;
  try {
    layout = SegmentLayout::compute(header.config);
  } catch (const std::invalid_argument& e) {
    throw SegmentError(where(cluster) + " has a corrupt header: " + e.what());
  }
  if (layout.total_size != header.total_size || layout.total_size != size)
    throw SegmentError(where(cluster) + " has the wrong size: " + std::to_string(size) +
                       " bytes, its header says " + std::to_string(header.total_size) +
                       " and its configuration needs " + std::to_string(layout.total_size));
  return layout;
}

bip::shared_memory_object open_object(std::string_view cluster, const std::string& name, bip::mode_t mode) {
  try {
    return bip::shared_memory_object(bip::open_only, name.c_str(), mode);
  } catch (const bip::interprocess_exception& e) {
    if (e.get_error_code() == bip::not_found_error)
      throw SegmentError(where(cluster) + " does not exist (is the cluster running?)");
    throw SegmentError(where(cluster) + " cannot be opened: " + e.what());
  }
}

std::size_t object_size(const bip::shared_memory_object& object) {
  bip::offset_t size = 0;
  if (!object.get_size(size) || size < 0) return 0;
  return static_cast<std::size_t>(size);
}

}  // namespace

std::string_view to_string(SegmentState state) noexcept {
  switch (state) {
    case SegmentState::missing:
      return "missing";
    case SegmentState::live:
      return "live";
    case SegmentState::stale:
      return "stale";
    case SegmentState::incompatible:
      return "incompatible";
  }
  return "unknown";
}

std::string Segment::object_name(std::string_view cluster) {
  const bool valid = !cluster.empty() && cluster.size() <= 64 &&
                     cluster.find_first_not_of(
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_-") == std::string_view::npos;
  if (!valid)
    throw SegmentError("bad cluster name '" + std::string(cluster) +
                       "': use 1 to 64 letters, digits, '_' or '-'");
  return std::string(kObjectPrefix) + std::string(cluster);
}

Segment::Segment(std::string cluster, bip::mapped_region region, const SegmentLayout& layout)
    : cluster_(std::move(cluster)),
      region_(std::move(region)),
      layout_(layout),
      header_(static_cast<SegmentHeader*>(region_.get_address())) {}

Segment Segment::create(std::string_view cluster, const SegmentConfig& config) {
  return create(cluster, config, ClusterId::random());
}

Segment Segment::create(std::string_view cluster, const SegmentConfig& config, const ClusterId& id) {
  const std::string name = object_name(cluster);
  SegmentLayout layout;
  try {
    layout = SegmentLayout::compute(config);
  } catch (const std::invalid_argument& e) {
    throw SegmentError("cannot create " + where(cluster) + ": " + e.what());
  }
  bip::shared_memory_object object;
  try {
    // Boost applies the permissions with fchmod after shm_open, so the umask cannot widen them.
    object =
        bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write, bip::permissions(0600));
  } catch (const bip::interprocess_exception& e) {
    if (e.get_error_code() == bip::already_exists_error)
      throw SegmentError(where(cluster) +
                         " already exists: that cluster is running, or a killed run left it behind "
                         "(`shmraft clean` removes stale segments)");
    throw SegmentError("cannot create " + where(cluster) + ": " + e.what());
  }
  try {
    object.truncate(static_cast<bip::offset_t>(layout.total_size));  // tmpfs: zero-filled
    bip::mapped_region region(object, bip::read_write);
    auto* base = static_cast<std::byte*>(region.get_address());

    // Fixed prefix first, so that a concurrent inspect() of the half-made segment can name its creator.
    auto* header = new (base) SegmentHeader{};
    header->layout_version = kLayoutVersion;
    header->header_size = sizeof(SegmentHeader);
    header->creator_pid = ::getpid();
    header->created_unix_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                        std::chrono::system_clock::now().time_since_epoch())
                                                        .count());
    header->total_size = layout.total_size;
    header->cluster_id = id;
    header->config = layout.config;
    std::memset(header->cluster_name, 0, sizeof header->cluster_name);
    std::memcpy(header->cluster_name, cluster.data(), cluster.size());

    const std::size_t n = layout.config.max_nodes, slots = config.client_slots;
    for (std::size_t i = 0; i < n; ++i)
      new (base + layout.counters_offset + i * sizeof(NodeCounters)) NodeCounters{};
    for (std::size_t i = 0; i < n; ++i) {
      new (base + layout.liveness_offset + i * sizeof(NodeLiveness)) NodeLiveness{};
      new (base + layout.progress_offset + i * sizeof(ProgressCounter)) ProgressCounter{};
    }
    for (std::size_t i = 0; i < n * n; ++i) {
      new (base + layout.death_cells_offset + i * sizeof(DeathCell)) DeathCell{};
      new (base + layout.faults_offset + i * sizeof(LinkFault)) LinkFault{};
    }
    new (base + layout.leader_offset) LeaderRecord{};
    for (std::size_t i = 0; i < n + slots; ++i)
      new (base + layout.doorbells_offset + i * sizeof(Doorbell)) Doorbell{};
    for (std::size_t i = 0; i < slots; ++i)
      new (base + layout.client_slots_offset + i * sizeof(ClientSlotState)) ClientSlotState{};
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t w = 0; w < request_signal_words(config.client_slots); ++w)
        new (base + layout.request_signals_offset + i * layout.request_signals_stride + w * sizeof(uint64_t))
            std::atomic<uint64_t>{0};
    for (uint32_t ring = 0; ring < layout.peer_rings + layout.client_rings; ++ring)
      new (base + layout.ring_control_offset(ring)) RingControl{};

    // release: whoever reads the magic (acquire) sees every field above.
    header->magic.store(kSegmentMagic, std::memory_order_release);
    return Segment(std::string(cluster), std::move(region), layout);
  } catch (const std::exception& e) {
    bip::shared_memory_object::remove(name.c_str());
    throw SegmentError("cannot create " + where(cluster) + ": " + e.what());
  }
}

Segment Segment::attach(std::string_view cluster, const std::optional<ClusterId>& expected_id) {
  const std::string name = object_name(cluster);
  bip::shared_memory_object object = open_object(cluster, name, bip::read_write);
  const std::size_t size = object_size(object);
  if (size < kHeaderPrefixSize)
    throw SegmentError(where(cluster) + " is not a shmraft segment (only " + std::to_string(size) +
                       " bytes)");
  bip::mapped_region region(object, bip::read_write);
  const SegmentLayout layout =
      check_header(cluster, static_cast<const std::byte*>(region.get_address()), size);
  const auto& header = *static_cast<const SegmentHeader*>(region.get_address());
  if (expected_id && header.cluster_id != *expected_id)
    throw SegmentError(where(cluster) + " belongs to cluster id " + header.cluster_id.to_hex() +
                       ", not the expected " + expected_id->to_hex() +
                       " (the cluster was re-created since this process was started)");
  return Segment(std::string(cluster), std::move(region), layout);
}

bool Segment::exists(std::string_view cluster) {
  const std::string name = object_name(cluster);
  try {
    bip::shared_memory_object object(bip::open_only, name.c_str(), bip::read_only);
    return true;
  } catch (const bip::interprocess_exception&) {
    return false;
  }
}

bool Segment::destroy(std::string_view cluster) {
  return bip::shared_memory_object::remove(object_name(cluster).c_str());
}

SegmentStatus Segment::inspect(std::string_view cluster) {
  SegmentStatus status;
  const std::string name = object_name(cluster);
  bip::shared_memory_object object;
  try {
    object = bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_only);
  } catch (const bip::interprocess_exception& e) {
    status.state =
        e.get_error_code() == bip::not_found_error ? SegmentState::missing : SegmentState::incompatible;
    status.detail =
        e.get_error_code() == bip::not_found_error ? "no segment" : std::string("cannot open: ") + e.what();
    return status;
  }
  status.size = object_size(object);
  if (status.size < kHeaderPrefixSize) {
    status.state = SegmentState::incompatible;
    status.detail = "too small to be a shmraft segment (" + std::to_string(status.size) + " bytes)";
    return status;
  }
  bip::mapped_region region(object, bip::read_only);
  const auto* base = static_cast<const std::byte*>(region.get_address());
  const auto& header = *reinterpret_cast<const SegmentHeader*>(base);
  const uint64_t magic = header.magic.load(std::memory_order_acquire);
  if (magic == kSegmentMagic || magic == 0) status.creator_pid = header.creator_pid;
  if (process_alive(status.creator_pid)) status.live_pids.push_back(status.creator_pid);

  if (magic == 0) {  // creation never finished: only the creator could still be using it
    status.state = status.live_pids.empty() ? SegmentState::stale : SegmentState::live;
    status.detail = "creation by pid " + std::to_string(status.creator_pid) +
                    (status.live_pids.empty() ? " never finished (creator is dead)" : " in progress");
    return status;
  }
  SegmentLayout layout;
  try {
    layout = check_header(cluster, base, status.size);
  } catch (const SegmentError& e) {
    status.state = SegmentState::incompatible;
    status.detail = e.what();
    return status;
  }
  auto note_pid = [&](uint64_t pid) {
    if (pid == 0 || pid > static_cast<uint64_t>(INT32_MAX)) return;
    const auto p = static_cast<pid_t>(pid);
    if (p != status.creator_pid && process_alive(p)) status.live_pids.push_back(p);
  };
  // relaxed: a pid is a single word, read for a liveness check only.
  for (uint32_t i = 0; i < layout.config.max_nodes; ++i) {
    note_pid(reinterpret_cast<const NodeCounters*>(base + layout.counters_offset)[i].pid.load(
        std::memory_order_relaxed));
    const int32_t owner =
        reinterpret_cast<const NodeLiveness*>(base + layout.liveness_offset)[i].owner_pid.load(
            std::memory_order_relaxed);
    if (owner > 0 &&
        std::find(status.live_pids.begin(), status.live_pids.end(), owner) == status.live_pids.end())
      note_pid(static_cast<uint64_t>(owner));
  }
  for (uint32_t s = 0; s < layout.config.client_slots; ++s) {
    const int32_t owner =
        reinterpret_cast<const ClientSlotState*>(base + layout.client_slots_offset)[s].owner_pid.load(
            std::memory_order_relaxed);
    if (owner > 0) note_pid(static_cast<uint64_t>(owner));
  }
  status.state = status.live_pids.empty() ? SegmentState::stale : SegmentState::live;
  status.detail = std::to_string(layout.config.node_count) + " nodes (room for " +
                  std::to_string(layout.config.max_nodes) + "), " +
                  std::to_string(layout.config.client_slots) + " client slots, id " +
                  header.cluster_id.to_hex() + ", created by pid " + std::to_string(status.creator_pid) +
                  "; " + std::to_string(status.live_pids.size()) + " live process(es)";
  return status;
}

bool Segment::remove_if_stale(std::string_view cluster) {
  if (inspect(cluster).state != SegmentState::stale) return false;
  return destroy(cluster);
}

std::vector<std::string> Segment::list_clusters() {
  std::vector<std::string> clusters;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", error)) {
    const std::string file = entry.path().filename().string();
    if (file.size() > kObjectPrefix.size() && file.compare(0, kObjectPrefix.size(), kObjectPrefix) == 0)
      clusters.push_back(file.substr(kObjectPrefix.size()));
  }
  return clusters;
}

void Segment::check_node(uint32_t node) const {
  if (!layout_.valid_node(node))
    throw std::out_of_range("node id " + std::to_string(node) + " out of range 1.." +
                            std::to_string(layout_.config.max_nodes) + " in cluster '" + cluster_ + "'");
}

void Segment::check_slot(uint32_t slot) const {
  if (slot >= layout_.config.client_slots)
    throw std::out_of_range("client slot " + std::to_string(slot) + " does not exist in cluster '" +
                            cluster_ + "' of " + std::to_string(layout_.config.client_slots) + " slots");
}

std::byte* Segment::ring_buffer(uint32_t ring) const noexcept {
  return &at<std::byte>(layout_.ring_buffer_offset(ring));
}

RingControl& Segment::ring_control(uint32_t ring) {
  if (ring >= layout_.peer_rings + layout_.client_rings)
    throw std::out_of_range("ring " + std::to_string(ring) + " does not exist in cluster '" + cluster_ + "'");
  return at<RingControl>(layout_.ring_control_offset(ring));
}

RingProducer Segment::peer_producer(uint32_t from, uint32_t to) {
  const uint32_t ring = layout_.peer_ring(from, to);
  return RingProducer(ring_control(ring), ring_buffer(ring), layout_.ring_capacity(ring), &node_doorbell(to));
}

RingConsumer Segment::peer_consumer(uint32_t from, uint32_t to) {
  const uint32_t ring = layout_.peer_ring(from, to);
  return RingConsumer(ring_control(ring), ring_buffer(ring), layout_.ring_capacity(ring));
}

RingProducer Segment::request_producer(uint32_t slot, uint32_t node) {
  const uint32_t ring = layout_.request_ring(slot, node);
  return RingProducer(ring_control(ring), ring_buffer(ring), layout_.ring_capacity(ring),
                      &node_doorbell(node));
}

RingConsumer Segment::request_consumer(uint32_t slot, uint32_t node) {
  const uint32_t ring = layout_.request_ring(slot, node);
  return RingConsumer(ring_control(ring), ring_buffer(ring), layout_.ring_capacity(ring));
}

RingProducer Segment::response_producer(uint32_t node, uint32_t slot) {
  const uint32_t ring = layout_.response_ring(node, slot);
  return RingProducer(ring_control(ring), ring_buffer(ring), layout_.ring_capacity(ring),
                      &client_doorbell(slot));
}

RingConsumer Segment::response_consumer(uint32_t node, uint32_t slot) {
  const uint32_t ring = layout_.response_ring(node, slot);
  return RingConsumer(ring_control(ring), ring_buffer(ring), layout_.ring_capacity(ring));
}

Doorbell& Segment::reply_doorbell(uint32_t slot) {
  return client_doorbell(reply_bell_slot(slot));
}

uint32_t Segment::reply_bell_slot(uint32_t slot) const {
  check_slot(slot);
  // acquire: pairs with share_reply_doorbell's release (the owner set it before its first request).
  const uint32_t bell = client_slot_state(slot).reply_bell.load(std::memory_order_acquire);
  return bell != 0 && bell <= layout_.config.client_slots ? bell - 1 : slot;
}

void Segment::share_reply_doorbell(uint32_t slot, uint32_t bell_slot) {
  check_slot(slot);
  check_slot(bell_slot);
  client_slot_state(slot).reply_bell.store(bell_slot + 1, std::memory_order_release);
}

RequestSignals Segment::request_signals(uint32_t node) {
  check_node(node);
  return RequestSignals(
      &at<std::atomic<uint64_t>>(layout_.request_signals_offset +
                                 std::size_t{slot_of(node)} * layout_.request_signals_stride),
      layout_.config.client_slots);
}

ClientSlotState& Segment::client_slot_state(uint32_t slot) const noexcept {
  return at<ClientSlotState>(layout_.client_slots_offset + std::size_t{slot} * sizeof(ClientSlotState));
}

Doorbell& Segment::node_doorbell(uint32_t node) {
  check_node(node);
  return at<Doorbell>(layout_.doorbells_offset + std::size_t{slot_of(node)} * sizeof(Doorbell));
}

Doorbell& Segment::client_doorbell(uint32_t slot) {
  check_slot(slot);
  return at<Doorbell>(layout_.doorbells_offset +
                      (std::size_t{layout_.config.max_nodes} + slot) * sizeof(Doorbell));
}

LinkFault& Segment::link_fault(uint32_t from, uint32_t to) {
  check_node(from);
  check_node(to);
  if (from == to) throw std::out_of_range("no link from node " + std::to_string(from) + " to itself");
  return at<LinkFault>(layout_.faults_offset +
                       (std::size_t{slot_of(from)} * layout_.config.max_nodes + slot_of(to)) *
                           sizeof(LinkFault));
}

NodeCounters& Segment::node_counters(uint32_t node) {
  return const_cast<NodeCounters&>(std::as_const(*this).node_counters(node));
}

const NodeCounters& Segment::node_counters(uint32_t node) const {
  check_node(node);
  return at<NodeCounters>(layout_.counters_offset + std::size_t{slot_of(node)} * sizeof(NodeCounters));
}

ClientSlotClaim Segment::claim_client_slot() {
  const uint32_t slots = layout_.config.client_slots;
  auto* states = &at<ClientSlotState>(layout_.client_slots_offset);
  const pid_t me = ::getpid();
  auto finish = [&](uint32_t slot, pid_t previous) {
    ClientSlotClaim claim;
    claim.slot = slot;
    // relaxed: after our CAS on owner_pid in this thread, and only the slot's owner bumps it.
    claim.generation = states[slot].generation.fetch_add(1, std::memory_order_relaxed) + 1;
    claim.previous_owner = previous;
    // Replies still queued for the previous owner are not ours, nor is a waiter it left registered on
    // the slot's doorbell when it died. We are now the slot's only consumer.
    for (uint32_t node = 1; node <= layout_.config.max_nodes; ++node)
      response_consumer(node, slot).discard_all();
    states[slot].reply_bell.store(0, std::memory_order_relaxed);  // the previous owner's bell is not ours
    client_doorbell(slot).reset_waiters();
    return claim;
  };
  // A free slot first; take one back from a dead owner only when none is free. acq_rel on the CAS: the
  // previous owner's release of the slot happens-before our use of its rings.
  for (uint32_t slot = 0; slot < slots; ++slot) {
    int32_t expected = 0;
    if (states[slot].owner_pid.compare_exchange_strong(expected, me, std::memory_order_acq_rel))
      return finish(slot, 0);
  }
  for (uint32_t slot = 0; slot < slots; ++slot) {
    int32_t owner = states[slot].owner_pid.load(std::memory_order_acquire);
    if (owner == 0 || owner == me || process_alive(owner)) continue;
    if (states[slot].owner_pid.compare_exchange_strong(owner, me, std::memory_order_acq_rel))
      return finish(slot, owner);
  }
  throw SegmentError("cluster '" + cluster_ + "': all " + std::to_string(slots) +
                     " client slots are owned by live processes");
}

bool Segment::release_client_slot(uint32_t slot) {
  check_slot(slot);
  int32_t expected = ::getpid();
  return client_slot_state(slot).owner_pid.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
}

pid_t Segment::client_slot_owner(uint32_t slot) const {
  check_slot(slot);
  return client_slot_state(slot).owner_pid.load(std::memory_order_acquire);
}

LivenessCells Segment::liveness_cells() const noexcept {
  LivenessCells cells;
  cells.node_slots = &at<NodeLiveness>(layout_.liveness_offset);
  cells.cell_slots = &at<DeathCell>(layout_.death_cells_offset);
  cells.max_nodes = layout_.config.max_nodes;
  cells.doorbell_slots = &at<Doorbell>(layout_.doorbells_offset);
  return cells;
}

LivenessClaim Segment::claim_liveness(uint32_t node) {
  check_node(node);
  const LivenessCells cells = liveness_cells();
  std::atomic<int32_t>& owner = cells.node(node).owner_pid;
  const pid_t me = ::getpid();
  int32_t current = owner.load(std::memory_order_acquire);
  do {
    if (current == me || (current != 0 && process_alive(current)))
      throw SegmentError("cluster '" + cluster_ + "': node " + std::to_string(node) +
                         " is already running (process " + std::to_string(current) +
                         " holds its liveness claim)");
  } while (!owner.compare_exchange_weak(current, me, std::memory_order_acq_rel));
  try {
    return LivenessClaim(cells, node);
  } catch (const std::exception& e) {
    owner.store(0, std::memory_order_release);
    throw SegmentError("cluster '" + cluster_ + "': cannot claim liveness of node " + std::to_string(node) +
                       ": " + e.what());
  }
}

PeerLiveness Segment::peer_alive(uint32_t node) const {
  check_node(node);
  return liveness_cells().read(node);
}

DeathWatch Segment::watch_deaths(uint32_t me) {
  return DeathWatch(liveness_cells(), me, &node_counters(me).deaths_seen);
}

ProgressCounter& Segment::progress(uint32_t node) {
  return const_cast<ProgressCounter&>(std::as_const(*this).progress(node));
}

const ProgressCounter& Segment::progress(uint32_t node) const {
  check_node(node);
  return at<ProgressCounter>(layout_.progress_offset + std::size_t{slot_of(node)} * sizeof(ProgressCounter));
}

ProgressWatch Segment::watch_progress(std::chrono::nanoseconds stall) const {
  return ProgressWatch(&at<ProgressCounter>(layout_.progress_offset), layout_.config.max_nodes, stall);
}

LeaderRecord& Segment::leader_record() {
  return at<LeaderRecord>(layout_.leader_offset);
}
const LeaderRecord& Segment::leader_record() const {
  return at<LeaderRecord>(layout_.leader_offset);
}

bool Segment::announce_leader(uint32_t leader, uint64_t term) {
  check_node(leader);
  if (!leader_record().publish(leader, term)) return false;
  ring_claimed_client_bells();
  return true;
}

bool Segment::announce_candidate(uint32_t candidate, uint64_t term) {
  check_node(candidate);
  if (!leader_record().publish_candidate(candidate, term)) return false;
  ring_claimed_client_bells();
  return true;
}

void Segment::ring_claimed_client_bells() {
  // Each doorbell once: the slots of one client thread share one (share_reply_doorbell), and every ring
  // of a bell whose sleeper has not run yet is one more futex syscall (16 for a 16-client bench thread,
  // on the new leader's loop).
  std::vector<uint8_t> rung(layout_.config.client_slots);
  for (uint32_t slot = 0; slot < layout_.config.client_slots; ++slot) {
    if (client_slot_owner(slot) == 0) continue;
    const uint32_t bell = reply_bell_slot(slot);
    if (std::exchange(rung[bell], uint8_t{1}) == 0) client_doorbell(bell).ring();
  }
}

}  // namespace shmraft::ipc
