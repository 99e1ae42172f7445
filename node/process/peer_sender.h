#pragma once
// Sends the core's messages to peers: honours each link's fault word (ipc/fault.h) — drop, or hold for
// the link's delay — then encodes the message straight into the transport's frame. The launcher cuts
// and slows links this way without Raft knowing.
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "ipc/fault.h"
#include "ipc/segment.h"
#include "node/process/fifo.h"
#include "node/process/transport.h"
#include "node/raft/message.h"

namespace shmraft::node {

class PeerSender {
 public:
  // `transport` and `segment` must outlive the sender.
  PeerSender(Transport& transport, ipc::Segment& segment, uint32_t self, uint64_t seed);

  // Sends (or drops, or delays) one message addressed to Raft node id message_to(m).
  void send(const raft::Message& message, uint64_t now_ns);
  // The same for any peer frame of `size` bytes (a snapshot chunk). False only when the link to `to` had
  // no room (counted as a drop): a caller with its own flow control tries again later; true when the
  // frame went, was held back, or was dropped by the link's fault word.
  // `encode(std::span<std::byte> out)` writes exactly `size` bytes, or returns false (frame dropped).
  // `wake` false: the frame need not wake a sleeping peer (Transport::commit_peer).
  template <class Encode>
  bool send_frame(uint32_t to, std::size_t size, uint64_t now_ns, Encode&& encode, bool wake = true);
  // Moves every delayed frame that is due into the transport.
  void release_due(uint64_t now_ns);
  // When the oldest delayed frame is due, if any.
  std::optional<uint64_t> next_due_ns() const noexcept;

  uint64_t frames_out() const noexcept { return frames_out_; }
  uint64_t drops() const noexcept { return drops_; }  // full link, cut link, or drop rate
  // Frames larger than a frame can ever be: never deliverable, so worth a warning (none is expected:
  // snapshots go through SnapshotSender in chunks); also counted in drops().
  uint64_t oversized() const noexcept { return oversized_; }

 private:
  struct Delayed {
    uint64_t due_ns = 0;
    uint32_t to = 0;
    bool wake = true;
    std::vector<std::byte> bytes;  // the encoded message; capacity reused across slots
  };
  // Room in the link to `to`, or nullptr (counted as a drop) when the frame cannot go.
  std::byte* reserve(uint32_t to, std::size_t size);
  void commit(uint32_t to, std::size_t size, bool wake);

  Transport& transport_;
  std::vector<ipc::LinkFault*> links_;  // by destination node id; [0] and [self] null
  std::mt19937_64 rng_;
  Fifo<Delayed> delayed_;
  uint64_t frames_out_ = 0;
  uint64_t drops_ = 0;
  uint64_t oversized_ = 0;
};

template <class Encode>
bool PeerSender::send_frame(uint32_t to, std::size_t size, uint64_t now_ns, Encode&& encode, bool wake) {
  if (to >= links_.size() || links_[to] == nullptr) {  // kNoNode (0), self or beyond the cluster
    ++drops_;
    return true;
  }
  const ipc::SendDecision decision = ipc::decide_send(*links_[to], rng_);
  if (!decision.deliver) {
    ++drops_;
    return true;
  }
  if (decision.delay.count() > 0) {
    Delayed& held = delayed_.push_back();
    held.due_ns = now_ns + static_cast<uint64_t>(decision.delay.count()) * 1000;
    held.to = to;
    held.wake = wake;
    held.bytes.resize(size);
    if (!encode(held.bytes)) {
      delayed_.pop_back();
      ++drops_;
    }
    return true;
  }
  std::byte* out = reserve(to, size);
  if (out == nullptr) return false;
  if (!encode({out, size})) {  // cannot happen with the announced size; never send junk
    ++drops_;
    return true;
  }
  commit(to, size, wake);
  return true;
}

}  // namespace shmraft::node
