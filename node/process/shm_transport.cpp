#include "node/process/shm_transport.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "ipc/populate.h"
#include "node/process/client_wire.h"

namespace shmraft::node {
namespace {
// Of each ring, the bytes from its current position mapped ahead of their first use (ipc/populate.h).
// Peer rings are mapped whole in the guest (~1 us a page), and their next 64 KiB are read (7-35 us a
// page on this VM): an election's vote requests and grants and the new leader's first appends (the rings
// between followers carry nothing else; a leader's wrap and are all read by their use). Of a client
// ring: a new leader's first replies, and its reads of clients it never served.
constexpr uint64_t kReadPeerBytes = 64 << 10;
constexpr uint64_t kPopulatedClientBytes = 4 << 10;
// Of slots past this many, the client rings are mapped in the guest only: reading the pages of
// thousands of slots would take a starting node tens of milliseconds of CPU (clients take the lowest
// free slots, so these are the ones in use).
constexpr uint32_t kReadClientSlots = 256;
}  // namespace

ShmTransport::ShmTransport(ipc::Segment& segment, uint32_t self, ipc::WaitStrategy wait,
                           std::chrono::nanoseconds spin)
    : segment_(segment),
      to_peer_(segment.max_nodes() + 1),
      from_peer_(segment.max_nodes() + 1),
      wakes_peer_(segment.max_nodes() + 1),
      requests_(segment.client_slots()),
      responses_(segment.client_slots()),
      is_dirty_(segment.client_slots()),
      signals_(segment.request_signals(self)),
      is_owed_(segment.client_slots()),
      bell_marked_(segment.client_slots()),
      waiter_(segment.node_doorbell(self), wait, spin) {
  max_peer_payload_ = std::numeric_limits<uint32_t>::max();
  for (uint32_t peer = 1; peer <= segment.max_nodes(); ++peer) {
    if (peer == self) continue;
    peers_.push_back(peer);
    to_peer_[peer] = segment.peer_producer(self, peer);
    from_peer_[peer] = segment.peer_consumer(peer, self);
    max_peer_payload_ = std::min(max_peer_payload_, to_peer_[peer].max_payload());
    // An election is the first use of the rings between followers (nodes that join later are left to
    // fault).
    if (peer > segment.node_count()) continue;
    const uint64_t whole = std::numeric_limits<uint64_t>::max();
    ipc::populate_ring(segment, segment.layout().peer_ring(self, peer), ipc::RingUse::write, whole,
                       kReadPeerBytes);
    ipc::populate_ring(segment, segment.layout().peer_ring(peer, self), ipc::RingUse::read, whole,
                       kReadPeerBytes);
  }
  if (peers_.empty()) max_peer_payload_ = 0;
  for (uint32_t slot = 0; slot < segment.client_slots(); ++slot) {
    requests_[slot] = segment.request_consumer(slot, self);
    responses_[slot] = segment.response_producer(self, slot);
    owe(slot);
    // The next pages only: a node may serve thousands of slots, each ring its own memory.
    const uint64_t read = slot < kReadClientSlots ? kPopulatedClientBytes : 0;
    ipc::populate_ring(segment, segment.layout().request_ring(slot, self), ipc::RingUse::read,
                       kPopulatedClientBytes, read);
    ipc::populate_ring(segment, segment.layout().response_ring(self, slot), ipc::RingUse::write,
                       kPopulatedClientBytes, read);
  }
  max_reply_payload_ = responses_.empty() ? 0 : responses_[0].max_payload();
  dirty_responses_.reserve(segment.client_slots());
  bells_to_ring_.reserve(segment.client_slots());
}

std::byte* ShmTransport::reserve_peer(uint32_t to, uint32_t length) {
  return length <= max_peer_payload_ ? to_peer_[to].try_reserve(length) : nullptr;
}

void ShmTransport::commit_peer(uint32_t to, uint32_t length, bool wake) {
  to_peer_[to].commit(kPeerFrame, length);
  if (wake) wakes_peer_[to] = 1;
}

std::byte* ShmTransport::reserve_reply(uint32_t slot, uint32_t length) {
  return length <= max_reply_payload_ ? responses_[slot].try_reserve(length) : nullptr;
}

void ShmTransport::commit_reply(uint32_t slot, uint32_t length) {
  responses_[slot].commit(kResponseFrame, length);
  if (!is_dirty_[slot]) {
    is_dirty_[slot] = 1;
    dirty_responses_.push_back(slot);
  }
}

void ShmTransport::flush() {
  for (uint32_t peer : peers_) {
    if (std::exchange(wakes_peer_[peer], 0) != 0)
      to_peer_[peer].publish();
    else
      to_peer_[peer].publish_unrung();
  }
  for (uint32_t slot : dirty_responses_) {
    is_dirty_[slot] = 0;
    if (!responses_[slot].publish_unrung()) continue;
    const uint32_t bell = segment_.reply_bell_slot(slot);
    if (bell_marked_[bell]) continue;
    bell_marked_[bell] = 1;
    bells_to_ring_.push_back(bell);
  }
  dirty_responses_.clear();
  for (uint32_t bell : bells_to_ring_) {
    segment_.client_doorbell(bell).ring();
    bell_marked_[bell] = 0;
  }
  bells_to_ring_.clear();
}

bool ShmTransport::has_incoming(const Sink& sink) noexcept {
  for (uint32_t peer : peers_)
    if (from_peer_[peer].has_frames()) return true;
  return sink.takes_requests() && (!owed_.empty() || signals_.any());
}

void ShmTransport::owe(uint32_t slot) {
  if (is_owed_[slot]) return;
  is_owed_[slot] = 1;
  owed_.push_back() = slot;
}

std::size_t ShmTransport::drain_requests(Sink& sink, uint32_t slot, std::size_t max_frames) {
  return requests_[slot].drain(
      [&](const ipc::Frame& frame) {
        if (frame.type == kRequestFrame)
          sink.on_client_request(slot, frame.payload);
        else
          ++foreign_frames_;
      },
      max_frames);
}

std::size_t ShmTransport::drain_owed(Sink& sink) {
  std::size_t frames = 0;
  for (std::size_t turns = owed_.size(); turns > 0; --turns) {
    const std::size_t room = sink.request_room();
    if (room == 0) break;
    const uint32_t slot = owed_.front();
    owed_.pop_front();
    frames += drain_requests(sink, slot, room);
    // Requests left (no room, or published since the drain began): still owed, after the others.
    if (requests_[slot].has_frames())
      owed_.push_back() = slot;
    else
      is_owed_[slot] = 0;
  }
  return frames;
}

std::size_t ShmTransport::receive(Sink& sink, Clock::time_point deadline) {
  if (deadline > Clock::now()) {
    const auto ready = [&] { return has_incoming(sink) || sink.has_wake_event(); };
    if (sink.spin_pays())
      waiter_.wait_until(ready, deadline);
    else
      waiter_.sleep_until(ready, deadline);
  }
  std::size_t frames = 0;
  for (uint32_t peer : peers_) {
    frames += from_peer_[peer].drain([&](const ipc::Frame& frame) {
      if (frame.type == kPeerFrame)
        sink.on_peer_frame(peer, frame.payload);
      else
        ++foreign_frames_;
    });
  }
  // Asked after the peers' frames: the vote that makes the sink leader lets it take the requests now.
  if (!sink.takes_requests()) return frames;
  signals_.take([&](uint32_t slot) { owe(slot); });
  return frames + drain_owed(sink);
}

uint64_t ShmTransport::bad_frames() const noexcept {
  uint64_t total = foreign_frames_;
  for (uint32_t peer : peers_) total += from_peer_[peer].bad_frames();
  for (const ipc::RingConsumer& ring : requests_) total += ring.bad_frames();
  return total;
}

}  // namespace shmraft::node
