#pragma once
// The node's end of the client rings: one request ring from every client slot, one response ring back.
// Requests are handed to the node loop as (slot, header, KV command); responses are written straight
// into the response ring and published once per loop iteration per slot (flush), which rings the
// slot's doorbell.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "ipc/segment.h"
#include "node/kv/result.h"
#include "node/process/client_wire.h"

namespace shmraft::node {

class ClientGateway {
 public:
  // `segment` must outlive the gateway.
  ClientGateway(ipc::Segment& segment, uint32_t self);

  // Calls handler(uint32_t slot, const RequestHeader&, std::span<const std::byte> command) for every
  // request that has arrived. The command is valid only during the call. Frames that are not requests
  // are counted in bad_frames() and skipped.
  template <class Handler>
  std::size_t drain(Handler&& handler) {
    std::size_t frames = 0;
    for (uint32_t slot = 0; slot < requests_.size(); ++slot) {
      frames += requests_[slot].drain([&](const ipc::Frame& frame) {
        const auto header = read_header<RequestHeader>(frame.payload);
        if (frame.type != kRequestFrame || !header) {
          ++malformed_;
          return;
        }
        handler(slot, *header, frame.payload.subspan(sizeof(RequestHeader)));
      });
    }
    return frames;
  }

  // True when some request ring holds a frame (cheap, for the wait loop).
  bool has_requests() noexcept;

  // Writes a response carrying a KV result (status ok) or a reason (any other status). Returns false,
  // counting a drop, when the slot's response ring is full (the client times out and retries).
  bool reply(uint32_t slot, const ResponseHeader& header, const kv::Result& result);
  bool reply(uint32_t slot, const ResponseHeader& header, std::string_view reason);

  // Publishes every response ring written since the last flush.
  void flush();

  uint32_t slots() const noexcept { return static_cast<uint32_t>(requests_.size()); }
  uint64_t drops() const noexcept { return drops_; }
  uint64_t replies() const noexcept { return replies_; }
  // Bad frames on the request rings: checksum/length failures seen by the rings, plus intact frames
  // that are not requests.
  uint64_t bad_frames() const noexcept;

 private:
  std::byte* reserve(uint32_t slot, std::size_t length);
  void commit(uint32_t slot, std::size_t length);

  std::vector<ipc::RingConsumer> requests_;   // by slot
  std::vector<ipc::RingProducer> responses_;  // by slot
  std::vector<uint32_t> dirty_;               // slots with unpublished responses
  std::vector<uint8_t> is_dirty_;
  uint64_t malformed_ = 0;
  uint64_t drops_ = 0;
  uint64_t replies_ = 0;
};

}  // namespace shmraft::node
