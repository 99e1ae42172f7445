#pragma once
// Transport over loopback TCP (ipc/tcp), for `--transport tcp`: the same frames, one connection per
// directed pair of endpoints. The node listens on a port the kernel picks and publishes it in its
// counters (the `tcp_port` counter); it connects to each peer once that peer has published
// its port (again whenever the port changes: the peer restarted). Clients connect to every node and get
// their replies on the connection they opened. The segment still carries the counters, the client
// slots and the links' fault words.
//
// The clients sleep in epoll, not on the segment's doorbells: a node that the leader record newly names
// leader or candidate (Segment::announce_leader/announce_candidate, which ring those doorbells) tells
// every client connected to it with an announcement frame, so that they re-read the record and follow
// at once, as over the rings, instead of at the end of their wait. It does so at its next receive(),
// the first thing after the announcement (Node::iterate announces once the iteration's frames are out).
// A receive also ends its wait when the sink's has_wake_event() (a peer's death) holds after an epoll
// wake-up: the dead peer's connections close as its process exits.
//
// Client requests are handed over only as far as the sink's request_room() allows, as over the rings.
// ipc::tcp reads what a socket holds and hands out every whole frame it read, so the requests past the
// room are held here, in the order they were read, and handed over first by the next receives (a
// request read later, even with room, waits behind them: each client's stay in order). They wait here
// rather than in their sockets; what the clients have in flight bounds them (a TCP client is one thread
// with one window).
#include <chrono>
#include <cstddef>
#include <span>
#include <vector>

#include "ipc/segment.h"
#include "ipc/tcp/transport.h"
#include "ipc/wait.h"
#include "node/process/fifo.h"
#include "node/process/transport.h"

namespace shmraft::node {

// The frame a node sends its TCP clients when the leader record newly names it (no payload; the client
// re-reads the record). Beside client_wire.h's request, response and peer frames (1-3).
inline constexpr uint16_t kAnnouncementFrame = 4;

class TcpTransport final : public Transport {
 public:
  // `segment` must outlive the transport. Throws std::system_error if it cannot listen.
  TcpTransport(ipc::Segment& segment, uint32_t self, ipc::WaitStrategy wait, std::chrono::nanoseconds spin);

  uint32_t max_peer_payload() const noexcept override { return max_peer_payload_; }
  std::byte* reserve_peer(uint32_t to, uint32_t length) override;
  void commit_peer(uint32_t to, uint32_t length, bool wake) override;
  uint32_t max_reply_payload() const noexcept override { return max_reply_payload_; }
  std::byte* reserve_reply(uint32_t slot, uint32_t length) override;
  void commit_reply(uint32_t slot, uint32_t length) override;
  void flush() override;
  std::size_t receive(Sink& sink, Clock::time_point deadline) override;
  uint64_t send_drops() const noexcept override;
  uint64_t bad_frames() const noexcept override;
  uint64_t sleeps() const noexcept override { return sleeps_; }

 private:
  struct HeldRequest {
    uint32_t slot = 0;
    std::vector<std::byte> payload;  // its capacity is reused by later requests held in this place
  };

  void connect_to_peers();
  // Sends the announcement frame to every connected client when the leader record names this node in a
  // term it has not told them of. Two loads when there is nothing new.
  void tell_clients_of_announcement();
  // Returns the frames read, handed over or held: anything that should end a wait.
  std::size_t poll(Sink& sink, std::chrono::nanoseconds timeout);
  void take_request(Sink& sink, uint32_t slot, std::span<const std::byte> payload);
  // Hands over held requests, oldest first, as far as the sink has room; returns how many.
  std::size_t hand_over_held(Sink& sink);

  ipc::Segment& segment_;
  uint32_t self_;
  ipc::WaitStrategy wait_;
  std::chrono::nanoseconds spin_;
  uint32_t max_peer_payload_;
  uint32_t max_reply_payload_;
  ipc::tcp::Transport tcp_;
  std::vector<uint16_t> peer_ports_;  // by node id: the port we connect to, 0 = not yet known
  std::vector<std::byte> scratch_;    // reserve() hands this out; commit() copies it into the stream
  Fifo<HeldRequest> held_;            // client requests read past the sink's room, in the order read
  std::size_t delivered_ = 0;         // frames handed to the sink during the current receive()
  uint64_t told_leader_term_ = 0;     // the newest term the clients were told this node leads
  uint64_t told_candidate_term_ = 0;  // the newest term they were told it campaigns in
  uint64_t foreign_frames_ = 0;
  uint64_t sleeps_ = 0;  // blocking polls (epoll with a timeout)
};

}  // namespace shmraft::node
