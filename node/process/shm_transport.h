#pragma once
// Transport over the cluster segment: one SPSC ring per directed node pair, one request ring from every
// client slot and one response ring back. Publishing rings the consumer's doorbell; receiving waits on
// this node's doorbell (ipc::Waiter: spin / yield / block / adaptive), which every ring into this node
// rings. Request rings are read only when their client raised its slot's request signal, so a node's
// wake-up costs slots/64 loads rather than one per client ring; a signalled ring is owed a read until it
// is drained to its end, in round-robin order, as far as the sink's request_room() allows per receive
// (nothing, and no wake-up for them, while the sink does not take requests).
// Replies ring each client slot's reply doorbell (shared by the slots one client thread drives) once per
// flush.
#include <chrono>
#include <vector>

#include "ipc/segment.h"
#include "ipc/wait.h"
#include "node/process/fifo.h"
#include "node/process/transport.h"

namespace shmraft::node {

class ShmTransport final : public Transport {
 public:
  // `segment` must outlive the transport.
  ShmTransport(ipc::Segment& segment, uint32_t self, ipc::WaitStrategy wait, std::chrono::nanoseconds spin);

  uint32_t max_peer_payload() const noexcept override { return max_peer_payload_; }
  std::byte* reserve_peer(uint32_t to, uint32_t length) override;
  void commit_peer(uint32_t to, uint32_t length, bool wake) override;
  uint32_t max_reply_payload() const noexcept override { return max_reply_payload_; }
  std::byte* reserve_reply(uint32_t slot, uint32_t length) override;
  void commit_reply(uint32_t slot, uint32_t length) override;
  void flush() override;
  std::size_t receive(Sink& sink, Clock::time_point deadline) override;
  uint64_t send_drops() const noexcept override { return 0; }  // a ring refuses only at reserve()
  uint64_t bad_frames() const noexcept override;
  uint64_t sleeps() const noexcept override { return waiter_.sleeps(); }

 private:
  bool has_incoming(const Sink& sink) noexcept;
  void owe(uint32_t slot);
  // Reads the owed request rings in turn until the sink has no room or each had its turn once.
  std::size_t drain_owed(Sink& sink);
  std::size_t drain_requests(Sink& sink, uint32_t slot, std::size_t max_frames);

  ipc::Segment& segment_;

  uint32_t max_peer_payload_ = 0;
  uint32_t max_reply_payload_ = 0;
  std::vector<uint32_t> peers_;
  std::vector<ipc::RingProducer> to_peer_;    // by node id; [0] and [self] unused
  std::vector<ipc::RingConsumer> from_peer_;  // by node id; [0] and [self] unused
  std::vector<uint8_t> wakes_peer_;           // by node id: a frame committed since flush() wakes it
  std::vector<ipc::RingConsumer> requests_;   // by client slot
  std::vector<ipc::RingProducer> responses_;  // by client slot
  std::vector<uint32_t> dirty_responses_;     // slots with unpublished replies
  std::vector<uint8_t> is_dirty_;
  ipc::RequestSignals signals_;
  // Request rings whose signal was taken and that may hold requests not read yet, in the order they are
  // read; a ring read only in part goes to the back. At start every ring: a previous incarnation may have
  // taken signals it never drained.
  Fifo<uint32_t> owed_;
  std::vector<uint8_t> is_owed_;         // by slot
  std::vector<uint32_t> bells_to_ring_;  // during flush: reply doorbells (by slot) to ring once each
  std::vector<uint8_t> bell_marked_;     // by slot
  ipc::Waiter waiter_;
  uint64_t foreign_frames_ = 0;  // intact frames of a type the ring does not carry
};

}  // namespace shmraft::node
