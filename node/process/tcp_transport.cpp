#include "node/process/tcp_transport.h"

#include <algorithm>

#include "ipc/ring.h"
#include "node/process/client_wire.h"
#include "node/process/node_counters.h"
#include "node/process/tcp_wait.h"

namespace shmraft::node {
namespace {

ipc::tcp::Options tcp_options(const ipc::Segment& segment, uint32_t self) {
  ipc::tcp::Options options;
  options.self = self;
  options.listen = true;
  options.listen_port = 0;
  options.max_payload = std::max(ipc::max_payload_for(segment.config().peer_ring_capacity),
                                 ipc::max_payload_for(segment.config().client_ring_capacity));
  return options;
}

}  // namespace

TcpTransport::TcpTransport(ipc::Segment& segment, uint32_t self, ipc::WaitStrategy wait,
                           std::chrono::nanoseconds spin)
    : segment_(segment),
      self_(self),
      wait_(wait),
      spin_(spin),
      // The limits of the shm rings, so the core is configured the same way over both transports.
      max_peer_payload_(ipc::max_payload_for(segment.config().peer_ring_capacity)),
      max_reply_payload_(ipc::max_payload_for(segment.config().client_ring_capacity)),
      tcp_(tcp_options(segment, self)),
      peer_ports_(segment.max_nodes() + 1, 0),
      scratch_(std::max(max_peer_payload_, max_reply_payload_)) {
  ipc::NodeCounters& counters = segment.node_counters(self);
  ipc::NodeCounters::set(counters.tcp_port, tcp_.port());
  // What the record says at start was said by an earlier process under this id: not news.
  told_leader_term_ = segment.leader_record().read().term;
  told_candidate_term_ = segment.leader_record().read_candidate().term;
  connect_to_peers();
}

void TcpTransport::connect_to_peers() {
  for (uint32_t peer = 1; peer <= segment_.max_nodes(); ++peer) {
    if (peer == self_) continue;
    const auto port =
        static_cast<uint16_t>(segment_.node_counters(peer).tcp_port.load(std::memory_order_relaxed));
    if (port == 0 || port == peer_ports_[peer]) continue;
    peer_ports_[peer] = port;
    tcp_.connect(peer, port);
  }
}

void TcpTransport::tell_clients_of_announcement() {
  const ipc::LeaderRecord& record = segment_.leader_record();
  const ipc::LeaderView leader = record.read();
  const ipc::LeaderView candidate = record.read_candidate();
  const bool leads = leader.leader == self_ && leader.term > told_leader_term_;
  const bool campaigns = candidate.leader == self_ && candidate.term > told_candidate_term_;
  if (!leads && !campaigns) return;
  if (leads) told_leader_term_ = leader.term;
  if (campaigns) told_candidate_term_ = candidate.term;
  tcp_.send_to_callers(kAnnouncementFrame, 0, {});
  tcp_.flush();
}

std::byte* TcpTransport::reserve_peer(uint32_t, uint32_t length) {
  return length <= max_peer_payload_ ? scratch_.data() : nullptr;
}

void TcpTransport::commit_peer(uint32_t to, uint32_t length, bool) {
  tcp_.send(to, kPeerFrame, 0, {scratch_.data(), length});  // a refusal is counted by ipc::tcp
}

std::byte* TcpTransport::reserve_reply(uint32_t, uint32_t length) {
  return length <= max_reply_payload_ ? scratch_.data() : nullptr;
}

void TcpTransport::commit_reply(uint32_t slot, uint32_t length) {
  tcp_.send(kTcpClientEndpoint + slot, kResponseFrame, 0, {scratch_.data(), length});
}

void TcpTransport::flush() {
  tcp_.flush();
}

std::size_t TcpTransport::poll(Sink& sink, std::chrono::nanoseconds timeout) {
  return tcp_.poll(timeout, [&](ipc::tcp::EndpointId from, const ipc::Frame& frame) {
    if (from >= 1 && from <= segment_.max_nodes() && frame.type == kPeerFrame) {
      sink.on_peer_frame(from, frame.payload);
      ++delivered_;
    } else if (from >= kTcpClientEndpoint && from - kTcpClientEndpoint < segment_.client_slots() &&
               frame.type == kRequestFrame) {
      take_request(sink, from - kTcpClientEndpoint, frame.payload);
    } else {
      ++foreign_frames_;
    }
  });
}

void TcpTransport::take_request(Sink& sink, uint32_t slot, std::span<const std::byte> payload) {
  if (held_.empty() && sink.request_room() > 0) {
    sink.on_client_request(slot, payload);
    ++delivered_;
    return;
  }
  HeldRequest& held = held_.push_back();
  held.slot = slot;
  held.payload.assign(payload.begin(), payload.end());
}

std::size_t TcpTransport::hand_over_held(Sink& sink) {
  std::size_t handed = 0;
  for (; !held_.empty() && sink.request_room() > 0; ++handed) {
    const HeldRequest& held = held_.front();
    sink.on_client_request(held.slot, held.payload);
    held_.pop_front();
  }
  return handed;
}

std::size_t TcpTransport::receive(Sink& sink, Clock::time_point deadline) {
  connect_to_peers();  // a few relaxed loads: catches a peer that (re)started on a new port
  tell_clients_of_announcement();
  delivered_ = hand_over_held(sink);
  // Work in hand: look, don't wait. Not for requests held for a sink that takes none (a candidate).
  if (delivered_ > 0 || (!held_.empty() && sink.takes_requests())) deadline = Clock::time_point{};
  const auto poll_counting_sleeps = [&](std::chrono::nanoseconds timeout) {
    if (timeout > std::chrono::nanoseconds::zero()) ++sleeps_;
    return poll(sink, timeout);
  };
  poll_until(
      poll_counting_sleeps, [&] { return sink.has_wake_event(); }, deadline, wait_, spin_);
  return delivered_;
}

uint64_t TcpTransport::send_drops() const noexcept {
  const ipc::tcp::Counters& c = tcp_.counters();
  return c.dropped_no_route + c.dropped_too_large + c.dropped_buffer_full;
}

uint64_t TcpTransport::bad_frames() const noexcept {
  const ipc::tcp::Counters& c = tcp_.counters();
  return foreign_frames_ + c.bad_crc + c.protocol_errors;
}

}  // namespace shmraft::node
