#pragma once
// How a client reaches the nodes: the segment's client rings (ShmChannel) or loopback TCP (TcpChannel,
// for clusters run with `--transport tcp`). Requests are encoded straight into the channel's buffer
// (reserve/commit) and published by flush(); receive() waits only while nothing has arrived.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "ipc/segment.h"
#include "ipc/wait.h"

namespace shmraft::client {

enum class TransportKind : uint8_t { shm, tcp };

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

  // `segment` must outlive the channel; `slot` is the client's claimed slot.
  static std::unique_ptr<ClientChannel> open(TransportKind kind, ipc::Segment& segment, uint32_t slot,
                                             ipc::WaitStrategy wait, std::chrono::nanoseconds spin);
};

}  // namespace shmraft::client
