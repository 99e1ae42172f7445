#pragma once
// How a node process exchanges Raft messages with its peers: shared-memory rings (ShmTransport) or
// loopback TCP (for `--transport tcp`, to show what the network stack costs). The node loop encodes
// each message straight into the transport's buffer (reserve/commit), publishes once per iteration
// (flush), and drains whatever arrived.
//
// Peers are 0-based node indexes. Frames are opaque bytes to the transport (one encoded Raft message).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

namespace shmraft::node {

class PeerTransport {
 public:
  using Clock = std::chrono::steady_clock;

  // Receives frames from drain(); `payload` is valid only during the call.
  class Sink {
   public:
    virtual void on_peer_frame(uint32_t from, std::span<const std::byte> payload) = 0;

   protected:
    ~Sink() = default;
  };

  // Something else the node waits for while it waits for peers (its client rings).
  class Readiness {
   public:
    virtual bool ready() = 0;  // cheap, side-effect free

   protected:
    ~Readiness() = default;
  };

  virtual ~PeerTransport() = default;

  // Largest frame payload a peer link takes.
  virtual uint32_t max_payload() const noexcept = 0;
  // Room for a frame of up to `length` bytes to `to`, or nullptr when the link is full or down (the
  // caller counts a drop; Raft retransmits).
  virtual std::byte* reserve(uint32_t to, uint32_t length) = 0;
  // Seals the reserved frame with `length` bytes; visible to the peer after flush().
  virtual void commit(uint32_t to, uint32_t length) = 0;
  // Publishes every committed frame: one publish and one wake-up per peer with new frames.
  virtual void flush() = 0;

  // Hands every frame that has arrived to `sink`; returns how many.
  virtual std::size_t drain(Sink& sink) = 0;
  // Incoming frames that are bad (length, checksum) and were skipped, since start.
  virtual uint64_t bad_frames() const noexcept = 0;

  // Returns when a peer frame arrives, `other.ready()`, or at `deadline`.
  virtual void wait_until(Readiness& other, Clock::time_point deadline) = 0;
};

}  // namespace shmraft::node
