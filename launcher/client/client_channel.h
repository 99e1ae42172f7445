#pragma once
// How a client reaches the nodes: the segment's client rings (ShmChannel) or loopback TCP (TcpChannel,
// for clusters run with `--transport tcp`). Requests are encoded straight into the channel's buffer
// (reserve/commit) and published by flush(); receive() waits only while nothing has arrived.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "ipc/segment.h"
#include "ipc/wait.h"

namespace shmraft::client {

enum class TransportKind : uint8_t { shm, tcp };

class ClientChannel;

// The doorbells the shm channels of one ClientGroup (one thread, many client slots) share: replies to
// any of them ring `reply_slot`'s doorbell, and their requests ring each node's doorbell once per group
// flush rather than once per channel. The group flushes only the channels that wrote requests since its
// last flush: with thousands of channels, looking at each one's rings per flush cost more than the
// requests (a fifth of the client thread at 4 096 clients × pipeline 16).
struct SharedBells {
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  uint32_t reply_slot = kNoSlot;          // the first channel opened takes its own slot's bell
  std::vector<uint8_t> nodes_to_ring;     // by node slot: requests published since the last flush
  std::vector<ClientChannel*> unflushed;  // channels with requests written since the last flush

  // Publishes the unflushed channels' requests, then rings each node that got some once.
  void flush(ipc::Segment& segment);
};

class ClientChannel {
 public:
  using Clock = std::chrono::steady_clock;

  class Sink {
   public:
    virtual void on_response(uint32_t node, std::span<const std::byte> payload) = 0;
    // Something besides a response that should end receive()'s wait (a new leader). A few loads.
    virtual bool has_wake_event() const noexcept { return false; }

   protected:
    ~Sink() = default;
  };

  virtual ~ClientChannel() = default;

  virtual uint32_t max_payload() const noexcept = 0;
  // Room for a request of `length` bytes to `node`, or nullptr when its channel is full or down.
  virtual std::byte* reserve(uint32_t node, uint32_t length) = 0;
  virtual void commit(uint32_t node, uint32_t length) = 0;
  virtual void flush() = 0;
  // Waits until a response arrives or `deadline` (no waiting for a past deadline), then hands every
  // response that has arrived to `sink`; returns how many.
  virtual std::size_t receive(Sink& sink, Clock::time_point deadline) = 0;
  // Hands every response that has arrived to `sink`, without waiting; returns how many.
  virtual std::size_t take(Sink& sink) = 0;
  // Whether a response from `node` waits to be received: a load, for a ClientGroup's wait check. Shm
  // only (a tcp channel answers false: its responses are read by receive()).
  virtual bool has_responses_from(uint32_t node) noexcept = 0;

  // `segment` must outlive the channel; `slot` is the client's claimed slot. `shared` (shm only, not
  // owned, outliving the channel): the channel belongs to a ClientGroup.
  static std::unique_ptr<ClientChannel> open(TransportKind kind, ipc::Segment& segment, uint32_t slot,
                                             ipc::WaitStrategy wait, std::chrono::nanoseconds spin,
                                             SharedBells* shared = nullptr);
};

}  // namespace shmraft::client
