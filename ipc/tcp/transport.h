#pragma once
// Loopback TCP transport, the comparison point for `shmraft bench --transport tcp`: the same frames as the
// shared-memory rings (ipc/frame.h: {u32 length, u16 type, u16 flags, u32 crc32c} + payload; no padding
// on a stream), carried over one TCP connection per directed pair of endpoints, like one ring per
// directed pair. A node sends to node B on the connection it opened to B and receives from B on the one
// B opened to it. A client, which does not listen, is answered on the connection it opened.
//
// Single-threaded, non-blocking sockets with epoll, TCP_NODELAY. send() only appends to the peer's
// output buffer; flush() writes every peer's buffer once per loop iteration — the batching of the ring's
// publish. poll() waits for input and hands out every complete frame. Listens on 127.0.0.1 only.
//
// Each connection starts with a 16-byte hello from the connecting side: {u32 magic "SRTC", u16 version,
// u16 zero, u32 sender id, u32 zero}. A frame with a bad CRC is counted and skipped; a bad hello or a
// frame longer than max_payload closes the connection (counted), since a stream cannot resynchronise.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "ipc/frame.h"

namespace shmraft::ipc::tcp {

using EndpointId = uint32_t;  // a node id, or a client id chosen by the launcher (distinct from nodes')

struct Options {
  EndpointId self = 0;
  bool listen = true;                         // nodes listen; clients only connect
  uint16_t listen_port = 0;                   // 0: the kernel picks one, port() tells which
  uint32_t max_payload = 16u << 20;           // larger frames are refused by send() and by the receiver
  std::size_t max_pending_bytes = 64u << 20;  // per peer; send() drops (counted) beyond this
  std::chrono::milliseconds reconnect_interval{10};
};

struct Counters {
  uint64_t frames_queued = 0;    // accepted by send()
  uint64_t frames_received = 0;  // delivered to the handler
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t dropped_no_route = 0;     // send() to a peer with neither a connection nor a connect() entry
  uint64_t dropped_too_large = 0;    // send() of a payload above max_payload
  uint64_t dropped_buffer_full = 0;  // send() while max_pending_bytes were already queued
  uint64_t bytes_discarded = 0;      // queued output lost with its connection
  uint64_t bad_crc = 0;              // received frames skipped
  uint64_t protocol_errors = 0;      // bad hello or impossible length: connection closed
  uint64_t connects = 0;             // outbound connections established
  uint64_t accepts = 0;              // inbound connections identified by their hello
  uint64_t disconnects = 0;          // established connections that closed
};

class Transport {
 public:
  // Throws std::system_error if the listening socket or epoll cannot be set up (e.g. port in use).
  explicit Transport(const Options& options);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  EndpointId self() const noexcept { return options_.self; }
  uint16_t port() const noexcept { return port_; }  // 0 when not listening

  // Opens (in the background, retrying every reconnect_interval until the peer listens and after every
  // disconnection) the connection self -> peer at 127.0.0.1:port. Frames sent meanwhile are queued.
  void connect(EndpointId peer, uint16_t port);
  // Whether frames to `peer` currently have an established connection to go out on.
  bool connected(EndpointId peer) const noexcept;

  // Queues one frame for `to`; nothing is written before flush(). Returns false, and counts why, when the
  // frame is dropped: no route to `to`, payload above max_payload, or the peer's buffer is full.
  bool send(EndpointId to, uint16_t type, uint16_t flags, std::span<const std::byte> payload);
  // Queues one frame for every peer answered on the connection it opened (one we do not connect to:
  // a client) while that connection is open; returns how many. Cold path (a node's announcement).
  std::size_t send_to_callers(uint16_t type, uint16_t flags, std::span<const std::byte> payload);
  // Writes queued output to every peer as far as the sockets take it; the rest goes on later flushes or
  // polls. Also retries due connection attempts.
  void flush();

  // Waits up to `timeout` (0: just look) for network events and calls on_frame(from, frame) for every
  // complete frame received; frame.payload is valid only during the call. on_frame may call send() but
  // not poll(). Returns the number of frames delivered; it returns after the first batch of events even
  // if that batch held no frame (a connection, a write completing), so callers loop on their own clock.
  template <class OnFrame>
  std::size_t poll(std::chrono::nanoseconds timeout, OnFrame&& on_frame) {
    using F = std::remove_reference_t<OnFrame>;
    void* context = const_cast<void*>(static_cast<const void*>(&on_frame));
    return poll_events(timeout, {context, [](void* f, EndpointId from, const Frame& frame) {
                                   (*static_cast<F*>(f))(from, frame);
                                 }});
  }

  // Peers whose connection (in either direction) closed since the last call, in order. Cold path.
  std::vector<EndpointId> take_disconnected();

  // Output queued and not yet taken by the kernel, over all peers (0: everything sent went out).
  std::size_t queued_bytes() const noexcept;

  const Counters& counters() const noexcept { return counters_; }

 private:
  struct Connection {
    enum class State : uint8_t { connecting, awaiting_hello, open, closed };
    int fd = -1;
    State state = State::connecting;
    bool outbound = false;
    bool want_write = false;  // EPOLLOUT registered
    EndpointId peer = 0;      // for inbound connections, known once the hello arrived
    std::vector<std::byte> in;
    std::size_t in_begin = 0;  // unparsed input is in[in_begin, in_end)
    std::size_t in_end = 0;
  };
  struct Peer {
    EndpointId id = 0;
    uint16_t port = 0;  // non-zero once connect() was called: we own the connection self -> id
    Connection* outbound = nullptr;
    Connection* inbound = nullptr;
    std::vector<std::byte> out;  // queued frames; out[out_sent, size) not yet written
    std::size_t out_sent = 0;
    bool dirty = false;        // listed in dirty_
    uint64_t retry_at_ns = 0;  // next connection attempt, 0 when none is due
  };
  struct Handler {
    void* context;
    void (*call)(void*, EndpointId, const Frame&);
  };

  std::size_t poll_events(std::chrono::nanoseconds timeout, Handler handler);
  Peer& peer(EndpointId id);
  Connection* send_connection(const Peer& peer) const noexcept;
  void start_connect(Peer& peer);
  void on_connected(Connection& c);
  void accept_all();
  void on_readable(Connection& c, Handler handler, std::size_t& delivered);
  bool parse_hello(Connection& c);
  void write_out(Peer& peer);
  void update_interest(Connection& c, bool want_write);
  void close_connection(Connection& c, bool protocol_error);
  void retry_connects(uint64_t now_ns);
  void sweep_closed();

  Options options_;
  int epoll_fd_ = -1;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::unordered_map<EndpointId, Peer> peers_;  // node-based: Peer& and Peer* stay valid
  std::vector<Peer*> dirty_;                    // peers with queued output
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<EndpointId> disconnected_;
  uint64_t next_retry_ns_ = UINT64_MAX;
  Counters counters_;
};

}  // namespace shmraft::ipc::tcp
