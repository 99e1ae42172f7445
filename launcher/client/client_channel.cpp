#include "launcher/client/client_channel.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "ipc/populate.h"
#include "ipc/tcp/transport.h"
#include "node/process/client_wire.h"
#include "node/process/node_counters.h"
#include "node/process/tcp_wait.h"

namespace shmraft::client {
namespace {

// Shares the group's reply doorbell before the channel's first request (Segment::share_reply_doorbell).
ipc::Doorbell& reply_bell(ipc::Segment& segment, uint32_t slot, SharedBells* shared) {
  if (shared != nullptr) {
    if (shared->reply_slot == SharedBells::kNoSlot) shared->reply_slot = slot;
    segment.share_reply_doorbell(slot, shared->reply_slot);
  }
  return segment.reply_doorbell(slot);
}

// The next pages of each ring, ahead of the first use (ipc/populate.h): a few round trips' worth.
constexpr uint64_t kPopulatedBytes = 4 << 10;

class ShmChannel final : public ClientChannel {
 public:
  ShmChannel(ipc::Segment& segment, uint32_t slot, ipc::WaitStrategy wait, std::chrono::nanoseconds spin,
             SharedBells* shared)
      : segment_(segment),
        slot_(slot),
        shared_(shared),
        waiter_(reply_bell(segment, slot, shared), wait, spin) {
    for (uint32_t node = 1; node <= segment.max_nodes(); ++node) {
      requests_.push_back(segment.request_producer(slot, node));
      responses_.push_back(segment.response_consumer(node, slot));
      signals_.push_back(segment.request_signals(node));
      // A fail-over sends to a node this client never used: no page faults on that first round trip
      // (nodes that join later are left to fault).
      if (node > segment.node_count()) continue;
      const ipc::SegmentLayout& layout = segment.layout();
      ipc::populate_ring(segment, layout.request_ring(slot, node), ipc::RingUse::write, kPopulatedBytes);
      ipc::populate_ring(segment, layout.response_ring(node, slot), ipc::RingUse::read, kPopulatedBytes);
    }
    unpublished_.assign(requests_.size(), 0);
  }

  uint32_t max_payload() const noexcept override {
    return requests_.empty() ? 0 : requests_[0].max_payload();
  }

  std::byte* reserve(uint32_t node, uint32_t length) override {
    return length <= max_payload() ? requests_[ipc::slot_of(node)].try_reserve(length) : nullptr;
  }

  void commit(uint32_t node, uint32_t length) override {
    requests_[ipc::slot_of(node)].commit(node::kRequestFrame, length);
    unpublished_[ipc::slot_of(node)] = 1;
    if (shared_ != nullptr && !queued_) {
      queued_ = true;
      shared_->unflushed.push_back(this);
    }
  }

  void flush() override {
    queued_ = false;
    for (uint32_t node = 1; node <= requests_.size(); ++node) {
      const uint32_t at = ipc::slot_of(node);
      if (!unpublished_[at]) continue;
      unpublished_[at] = 0;
      if (!requests_[at].publish_unrung()) continue;
      signals_[at].raise(slot_);  // after the tail: the node reads only signalled rings
      if (shared_ != nullptr)
        shared_->nodes_to_ring[at] = 1;
      else
        segment_.node_doorbell(node).ring();
    }
  }

  std::size_t receive(Sink& sink, Clock::time_point deadline) override {
    if (deadline > Clock::now())
      waiter_.wait_until([&] { return has_responses() || sink.has_wake_event(); }, deadline);
    return take(sink);
  }

  std::size_t take(Sink& sink) override {
    std::size_t frames = 0;
    for (uint32_t node = 1; node <= responses_.size(); ++node) {
      frames += responses_[ipc::slot_of(node)].drain([&](const ipc::Frame& frame) {
        if (frame.type == node::kResponseFrame) sink.on_response(node, frame.payload);
      });
    }
    return frames;
  }

  bool has_responses_from(uint32_t node) noexcept override {
    return responses_[ipc::slot_of(node)].has_frames();
  }

 private:
  ipc::Segment& segment_;
  uint32_t slot_;
  SharedBells* shared_;
  std::vector<ipc::RingProducer> requests_;   // by node slot (ipc::slot_of of the node id)
  std::vector<ipc::RingConsumer> responses_;  // by node slot
  std::vector<ipc::RequestSignals> signals_;  // by node slot
  std::vector<uint8_t> unpublished_;          // by node slot
  bool queued_ = false;                       // in shared_->unflushed
  ipc::Waiter waiter_;

  bool has_responses() noexcept {
    for (ipc::RingConsumer& ring : responses_)
      if (ring.has_frames()) return true;
    return false;
  }
};

class TcpChannel final : public ClientChannel {
 public:
  TcpChannel(ipc::Segment& segment, uint32_t slot, ipc::WaitStrategy wait, std::chrono::nanoseconds spin)
      : segment_(segment),
        wait_(wait),
        spin_(spin),
        max_payload_(ipc::max_payload_for(segment.config().client_ring_capacity)),
        tcp_(options(segment, slot)),
        ports_(segment.max_nodes() + 1, 0),
        scratch_(max_payload_) {
    connect_to_nodes();
  }

  uint32_t max_payload() const noexcept override { return max_payload_; }

  std::byte* reserve(uint32_t node, uint32_t length) override {
    if (!follow_port(node)) return nullptr;
    return length <= max_payload_ ? scratch_.data() : nullptr;
  }

  void commit(uint32_t node, uint32_t length) override {
    tcp_.send(node, node::kRequestFrame, 0, {scratch_.data(), length});
  }

  void flush() override { tcp_.flush(); }

  bool has_responses_from(uint32_t) noexcept override { return false; }

  std::size_t receive(Sink& sink, Clock::time_point deadline) override {
    connect_to_nodes();  // a few relaxed loads: a node that (re)started on a new port
    return node::poll_until([&](std::chrono::nanoseconds timeout) { return poll(sink, timeout); },
                            [&] { return sink.has_wake_event(); }, deadline, wait_, spin_);
  }

  std::size_t take(Sink& sink) override { return poll(sink, std::chrono::nanoseconds::zero()); }

 private:
  static ipc::tcp::Options options(const ipc::Segment& segment, uint32_t slot) {
    ipc::tcp::Options o;
    o.self = node::kTcpClientEndpoint + slot;
    o.listen = false;
    o.max_payload = ipc::max_payload_for(segment.config().client_ring_capacity);
    return o;
  }

  // Whether `node` has published a port, connecting to it when the port is new: nodes publish theirs
  // when they start (and a new one when they restart).
  bool follow_port(uint32_t node) {
    const auto port =
        static_cast<uint16_t>(segment_.node_counters(node).tcp_port.load(std::memory_order_relaxed));
    if (port == 0) return false;
    if (port != ports_[node]) {
      ports_[node] = port;
      tcp_.connect(node, port);
    }
    return true;
  }

  // To every node, not only those asked so far: a node the leader record newly names tells the clients
  // connected to it (kAnnouncementFrame, node/process/tcp_transport.h), which is how a client asleep in epoll
  // learns of a new leader or candidate at once, as a shm client does from its doorbell.
  void connect_to_nodes() {
    for (uint32_t node = 1; node <= segment_.max_nodes(); ++node) follow_port(node);
  }

  // Responses go to the sink; any other frame (an announcement) only ends the wait, counted by ipc::tcp,
  // and the client re-reads the leader record (Sink::has_wake_event).
  std::size_t poll(Sink& sink, std::chrono::nanoseconds timeout) {
    return tcp_.poll(timeout, [&](ipc::tcp::EndpointId from, const ipc::Frame& frame) {
      if (from >= 1 && from <= segment_.max_nodes() && frame.type == node::kResponseFrame)
        sink.on_response(from, frame.payload);
    });
  }

  ipc::Segment& segment_;
  ipc::WaitStrategy wait_;
  std::chrono::nanoseconds spin_;
  uint32_t max_payload_;
  ipc::tcp::Transport tcp_;
  std::vector<uint16_t> ports_;  // by node id: the port connected to, 0 = none yet
  std::vector<std::byte> scratch_;
};

}  // namespace

void SharedBells::flush(ipc::Segment& segment) {
  for (ClientChannel* channel : unflushed) channel->flush();
  unflushed.clear();
  for (uint32_t node = 1; node <= nodes_to_ring.size(); ++node) {
    if (!nodes_to_ring[ipc::slot_of(node)]) continue;
    nodes_to_ring[ipc::slot_of(node)] = 0;
    segment.node_doorbell(node).ring();
  }
}

std::unique_ptr<ClientChannel> ClientChannel::open(TransportKind kind, ipc::Segment& segment, uint32_t slot,
                                                   ipc::WaitStrategy wait, std::chrono::nanoseconds spin,
                                                   SharedBells* shared) {
  if (kind == TransportKind::tcp) {
    if (shared != nullptr)
      throw std::invalid_argument("tcp clients cannot share a thread's doorbell: one thread per tcp client");
    return std::make_unique<TcpChannel>(segment, slot, wait, spin);
  }
  return std::make_unique<ShmChannel>(segment, slot, wait, spin, shared);
}

}  // namespace shmraft::client
