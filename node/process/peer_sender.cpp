#include "node/process/peer_sender.h"

#include <cstring>

#include "ipc/fault.h"
#include "node/raft/codec.h"

namespace shmraft::node {

PeerSender::PeerSender(Transport& transport, ipc::Segment& segment, uint32_t self, uint64_t seed)
    : transport_(transport), links_(segment.max_nodes() + 1, nullptr), rng_(seed) {
  for (uint32_t peer = 1; peer <= segment.max_nodes(); ++peer)
    if (peer != self) links_[peer] = &segment.link_fault(self, peer);
}

void PeerSender::send(const raft::Message& message, uint64_t now_ns) {
  send_frame(
      raft::message_to(message), raft::encoded_size(message), now_ns,
      [&](std::span<std::byte> out) { return static_cast<bool>(raft::encode(message, out)); },
      raft::wakes_receiver(message));
}

std::byte* PeerSender::reserve(uint32_t to, std::size_t size) {
  if (size > transport_.max_peer_payload()) {
    ++oversized_;
    ++drops_;
    return nullptr;
  }
  std::byte* out = transport_.reserve_peer(to, static_cast<uint32_t>(size));
  if (out == nullptr) ++drops_;
  return out;
}

void PeerSender::commit(uint32_t to, std::size_t size, bool wake) {
  transport_.commit_peer(to, static_cast<uint32_t>(size), wake);
  ++frames_out_;
}

void PeerSender::release_due(uint64_t now_ns) {
  while (!delayed_.empty() && delayed_.front().due_ns <= now_ns) {
    const Delayed& held = delayed_.front();
    if (std::byte* out = reserve(held.to, held.bytes.size())) {
      std::memcpy(out, held.bytes.data(), held.bytes.size());
      commit(held.to, held.bytes.size(), held.wake);
    }
    delayed_.pop_front();
  }
}

std::optional<uint64_t> PeerSender::next_due_ns() const noexcept {
  if (delayed_.empty()) return std::nullopt;
  return delayed_.front().due_ns;
}

}  // namespace shmraft::node
