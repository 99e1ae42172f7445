#include "node/process/shm_transport.h"

#include <algorithm>
#include <limits>

#include "node/process/client_wire.h"

namespace shmraft::node {

ShmTransport::ShmTransport(ipc::Segment& segment, uint32_t self, ipc::WaitStrategy wait)
    : self_(self),
      out_(segment.node_count()),
      in_(segment.node_count()),
      waiter_(segment.node_doorbell(self), wait) {
  max_payload_ = std::numeric_limits<uint32_t>::max();
  for (uint32_t peer = 0; peer < segment.node_count(); ++peer) {
    if (peer == self) continue;
    peers_.push_back(peer);
    out_[peer] = segment.peer_producer(self, peer);
    in_[peer] = segment.peer_consumer(peer, self);
    max_payload_ = std::min(max_payload_, out_[peer].max_payload());
  }
  if (peers_.empty()) max_payload_ = 0;
}

std::byte* ShmTransport::reserve(uint32_t to, uint32_t length) {
  if (length > max_payload_) return nullptr;
  return out_[to].try_reserve(length);
}

void ShmTransport::commit(uint32_t to, uint32_t length) {
  out_[to].commit(kPeerFrame, length);
}

void ShmTransport::flush() {
  for (uint32_t peer : peers_) out_[peer].publish();
}

std::size_t ShmTransport::drain(Sink& sink) {
  std::size_t frames = 0;
  for (uint32_t peer : peers_) {
    frames += in_[peer].drain([&](const ipc::Frame& frame) {
      if (frame.type == kPeerFrame)
        sink.on_peer_frame(peer, frame.payload);
      else
        ++foreign_frames_;
    });
  }
  return frames;
}

uint64_t ShmTransport::bad_frames() const noexcept {
  uint64_t total = foreign_frames_;
  for (uint32_t peer : peers_) total += in_[peer].bad_frames();
  return total;
}

bool ShmTransport::has_incoming() noexcept {
  for (uint32_t peer : peers_)
    if (in_[peer].has_frames()) return true;
  return false;
}

void ShmTransport::wait_until(Readiness& other, Clock::time_point deadline) {
  waiter_.wait_until([&] { return has_incoming() || other.ready(); }, deadline);
}

}  // namespace shmraft::node
