#pragma once
// PeerTransport over the cluster segment's peer rings: one SPSC ring per directed pair; publishing
// rings the receiving node's doorbell, and waiting sleeps on this node's doorbell (ipc::Waiter), which
// client request rings ring too.
#include <vector>

#include "ipc/segment.h"
#include "ipc/wait.h"
#include "node/process/peer_transport.h"

namespace shmraft::node {

class ShmTransport final : public PeerTransport {
 public:
  // `segment` must outlive the transport.
  ShmTransport(ipc::Segment& segment, uint32_t self, ipc::WaitStrategy wait);

  uint32_t max_payload() const noexcept override { return max_payload_; }
  std::byte* reserve(uint32_t to, uint32_t length) override;
  void commit(uint32_t to, uint32_t length) override;
  void flush() override;
  std::size_t drain(Sink& sink) override;
  uint64_t bad_frames() const noexcept override;
  void wait_until(Readiness& other, Clock::time_point deadline) override;

 private:
  bool has_incoming() noexcept;

  uint32_t self_;
  uint32_t max_payload_ = 0;
  std::vector<ipc::RingProducer> out_;  // indexed by peer; out_[self_] unused
  std::vector<ipc::RingConsumer> in_;   // indexed by peer; in_[self_] unused
  std::vector<uint32_t> peers_;
  ipc::Waiter waiter_;
  uint64_t foreign_frames_ = 0;  // intact frames of a type no peer sends
};

}  // namespace shmraft::node
