#pragma once
// Everything a node process sends and receives: Raft messages to and from its peers, client requests
// in and replies out. Two implementations: ShmTransport (the segment's rings, the point of the project)
// and TcpTransport (loopback TCP with the same frames, for `--transport tcp`, to show what the network
// stack costs). The node loop encodes straight into the transport's buffer (reserve/commit), publishes
// once per iteration (flush), and receives with one call that waits only when it has nothing to do.
//
// Peers are node ids 1..N; clients are identified by their slot in the segment.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

namespace shmraft::node {

class Transport {
 public:
  using Clock = std::chrono::steady_clock;

  // Receives frames from receive(); payloads are valid only during the call.
  class Sink {
   public:
    virtual void on_peer_frame(uint32_t from, std::span<const std::byte> payload) = 0;
    virtual void on_client_request(uint32_t slot, std::span<const std::byte> payload) = 0;
    // Something besides a frame that should end receive()'s wait (a peer's death). A few loads.
    virtual bool has_wake_event() const noexcept { return false; }
    // How many more client requests this receive() may hand over, asked before each request channel is
    // read: a sink bounds one call's intake so it reads its peers and ticks again soon after a burst; the
    // requests left wait (back-pressure) for the next call: in their rings (ShmTransport), or held by
    // TcpTransport in the order read, as ipc::tcp reads whatever a socket holds.
    virtual std::size_t request_room() noexcept { return SIZE_MAX; }
    // False while the sink leaves every client request where it waits, whatever request_room() says: a
    // candidate that announced itself to the clients takes their requests once it leads, in the receive
    // that reads the deciding vote. receive() then neither reads them nor wakes (or spins) for them.
    virtual bool takes_requests() const noexcept { return true; }
    // False when no frame is due within a spin: receive() then sleeps at once (ipc::Waiter::sleep_until).
    // A follower whose leader is gone waits for a candidate, then for its appends, each of which must
    // first get a CPU; spinning for them on a host with fewer CPUs than processes only keeps them off.
    virtual bool spin_pays() const noexcept { return true; }

   protected:
    ~Sink() = default;
  };

  virtual ~Transport() = default;

  // ---- to peers ----
  virtual uint32_t max_peer_payload() const noexcept = 0;
  // Room for a frame of up to `length` bytes, or nullptr when the link is full or down (the caller
  // counts a drop; Raft retransmits). commit() seals it; flush() makes it visible. A frame committed with
  // `wake` false (raft::wakes_receiver) does not wake a sleeping peer unless another frame to it does:
  // it is read when the peer next wakes (ShmTransport; a stream transport cannot hold one back).
  virtual std::byte* reserve_peer(uint32_t to, uint32_t length) = 0;
  virtual void commit_peer(uint32_t to, uint32_t length, bool wake) = 0;

  // ---- to clients ----
  virtual uint32_t max_reply_payload() const noexcept = 0;
  // nullptr when the client's reply channel is full or gone (it times out and retries).
  virtual std::byte* reserve_reply(uint32_t slot, uint32_t length) = 0;
  virtual void commit_reply(uint32_t slot, uint32_t length) = 0;

  // Publishes everything committed since the last flush: one publish and one wake-up per destination.
  virtual void flush() = 0;

  // Waits until something arrives or `deadline` passes (a deadline in the past: no waiting), then hands
  // every peer frame that has arrived to `sink`, and the client requests that have arrived as far as
  // sink.request_room() allows. Returns how many frames it delivered.
  virtual std::size_t receive(Sink& sink, Clock::time_point deadline) = 0;

  // Frames refused after commit (a stream transport's full or unconnected peer) since start; frames
  // that could not even be reserved are counted by the caller.
  virtual uint64_t send_drops() const noexcept = 0;
  // Incoming frames skipped as bad since start: broken checksum or length, or a frame type the channel
  // does not carry.
  virtual uint64_t bad_frames() const noexcept = 0;
  // Times receive() went to sleep (futex or epoll) since start: waits that outlasted the spin.
  virtual uint64_t sleeps() const noexcept = 0;
};

}  // namespace shmraft::node
