#pragma once
// The KV client: attaches to a running cluster's segment, claims a client slot (released on
// destruction; a dead owner's slot is reclaimed by the next claimant), and keeps up to
// ClientOptions::pipeline requests outstanding. It finds the leader from the nodes' hints, retries an
// unanswered request at the next node after attempt_timeout with the SAME sequence number — unless it
// waits at the live leader the segment names, which is only slow — and gives up after operation_timeout
// with Status::unknown.
//
//     AsyncClient c("demo", {.pipeline = 8, .session = false});
//     c.submit({kv::Op::put, "k", "v"}, /*tag=*/1);           // false when `pipeline` are outstanding
//     c.wait([](const Completion& done) { ... }, 10ms);       // publishes, sleeps on the slot's doorbell
//
// submit() writes the request frame without publishing it; poll() and wait() publish everything
// submitted (one store and one doorbell per node), so a burst of submits costs one wake-up.
// Single-threaded: one thread uses a client at a time.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/layout.h"
#include "ipc/segment.h"
#include "ipc/wait.h"
#include "launcher/client/client_channel.h"
#include "launcher/client/client_types.h"
#include "node/process/client_wire.h"

namespace shmraft::client {

struct Completion {
  uint64_t tag = 0;  // as given to submit()
  Status status = Status::unknown;
  std::string_view value;  // get: the value ("" when absent); valid only during the callback
  bool found = true;       // get: false when the key holds no value (an empty value is found)
  Phases phases;
  uint32_t attempts = 0;  // sends, including retries
};

class AsyncClient final : private ClientChannel::Sink {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = std::function<void(const Completion&)>;

  // Throws ipc::SegmentError when the cluster is not running (no segment), or every slot is taken by a
  // live process; std::invalid_argument for bad options.
  explicit AsyncClient(std::string_view cluster, const ClientOptions& options = {});
  // A client of a ClientGroup: on the group's attach of the segment, with the group's doorbells (shm).
  AsyncClient(std::shared_ptr<ipc::Segment> segment, const ClientOptions& options, SharedBells* shared);
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  // Queues a request (sent at once, published by the next poll/wait/flush). False when `pipeline`
  // requests are already outstanding. Throws std::invalid_argument for a key or value the codec or the
  // ring cannot carry.
  bool submit(const Request& request, uint64_t tag);

  // Publishes submitted requests, handles every reply that has arrived and every timer that is due
  // (retries, give-ups); calls `on_done` once per finished request. Returns how many finished.
  std::size_t poll(const Callback& on_done);
  // Like poll(), but first waits (adaptively, on the slot's doorbell) until a reply arrives, a retry is
  // due, or `timeout` passes.
  std::size_t wait(const Callback& on_done, Clock::duration timeout);
  // Publishes submitted requests now.
  void flush();

  // A ClientGroup's finer steps (its thread waits for all of its clients at once):
  // Whether a reply waits to be handled from a node that owes one to an outstanding request (shm; a load
  // per node written to since the request's first attempt): a late ok to an earlier attempt, at a node
  // the current attempt has left, counts as well as the current attempt's answer.
  bool has_replies() noexcept;
  // Handles every reply that has arrived; publishes nothing. Returns how many requests finished.
  std::size_t take_replies(const Callback& on_done);
  // Follows a newly announced leader and handles the timers due at `now_ns` (retries, give-ups).
  // Returns how many requests finished.
  std::size_t run_due(const Callback& on_done, uint64_t now_ns);
  // No timer is due before this (CLOCK_MONOTONIC ns; may be early, never late).
  uint64_t next_timer_ns() const noexcept { return next_timer_ns_; }

  std::size_t outstanding() const noexcept { return outstanding_; }
  uint32_t pipeline() const noexcept { return options_.pipeline; }
  uint32_t slot() const noexcept { return claim_.slot; }
  uint64_t client_id() const noexcept { return client_id_; }
  // The node id (1..N) this client believes leads, or 0 when it has no idea.
  uint32_t leader() const noexcept { return leader_; }
  uint32_t node_count() const noexcept { return segment_->node_count(); }
  // Largest value (or key + value) a request can carry through this cluster's rings.
  std::size_t max_request_bytes() const noexcept;
  // The same for a channel whose frames carry at most `frame_payload` bytes (ipc::max_payload_for of the
  // client ring capacity), for checks made before any client exists.
  static std::size_t max_request_bytes_for(std::size_t frame_payload) noexcept;
  // Largest value an append may make (what a get reply carries back), sent with every append so the
  // cluster refuses one that would grow its key past it.
  std::size_t max_append_bound() const noexcept;

 private:
  enum class State : uint8_t { free, in_flight, waiting_retry };
  struct Pending {
    State state = State::free;
    uint64_t tag = 0;
    uint64_t sequence = 0;
    uint64_t first_serial = 0;    // request ids of this operation's attempts are >= this
    uint64_t current_serial = 0;  // the attempt a not_leader answer must match to count
    uint32_t node = 0;            // where the current attempt goes (or went)
    uint32_t written_nodes = 0;   // a bit per node slot an attempt of this operation was written to
    // The leader record's term the current attempt was written under (0: its channel was full and it
    // was not written): only an attempt written to the same leader in the same term is waited for.
    uint64_t written_in_term = 0;
    uint32_t attempts = 0;
    uint64_t call_ns = 0;
    uint64_t attempt_deadline_ns = 0;  // in_flight: retry elsewhere after this; waiting_retry: send then
    uint64_t give_up_ns = 0;
    kv::Op op = kv::Op::get;
    std::vector<std::byte> command;    // encoded once, resent as is (capacity reused)
    std::string key, value, expected;  // for the history only
  };

  void send_attempt(uint32_t index, uint64_t now_ns);
  // Every deadline goes through arm(), every written attempt through note_written() and every finish
  // through forget_written() (they keep owing_).
  void arm(Pending& p, uint64_t deadline_ns) noexcept;
  void note_written(Pending& p, uint32_t node) noexcept;
  void forget_written(Pending& p) noexcept;
  // ClientChannel::Sink: a reply, handled while receive() runs (on_done_ is set).
  void on_response(uint32_t node, std::span<const std::byte> payload) override;
  // A leader newer than the one this client last followed was announced in the segment (ipc/leader.h).
  bool has_wake_event() const noexcept override {
    const ipc::LeaderRecord& record = segment_->leader_record();
    return record.read().term > followed_leader_term_ ||
           record.read_candidate().term > followed_candidate_term_;
  }
  // Redirects every request sent to another node, or waiting to be retried, to the announced live
  // leader at once, with the same sequence number (a new attempt of the same command), instead of
  // waiting for its attempt timeout — except a session-less write at a live node, which may be in doubt.
  void follow_leader_record(uint64_t now_ns);
  // Resends every request waiting at a dead node to the live candidate the record newly names, of a term
  // newer than any leader followed: it takes them once elected, with its no-op (Node::takes_requests).
  // Should it lose, it answers "not leader" and the new leader's announcement redirects them anyway.
  void follow_candidate(uint64_t now_ns);
  void handle_response(uint32_t node, const node::ResponseHeader& header, std::span<const std::byte> payload,
                       uint64_t now_ns);
  std::size_t receive(const Callback& on_done, Clock::time_point deadline);
  void run_timers(uint64_t now_ns);
  // The leader the segment's record names, if it is alive (ipc/leader.h; a few loads).
  struct LiveLeader {
    uint32_t node = 0;
    uint64_t term = 0;
  };
  std::optional<LiveLeader> announced_live_leader() const;
  void finish(uint32_t index, Status status, std::string_view value, const Phases& phases, bool found = true);
  void record_history(const Pending& p, Status status, std::string_view value, uint64_t return_ns);
  uint32_t pick_node();
  // The running node after `node` in the order 1, 2, .., max_nodes, 1, ... (nodes join and leave);
  // when none is seen running, the next of the initial voters 1..node_count.
  uint32_t next_node(uint32_t node) const noexcept;

  ClientOptions options_;
  std::shared_ptr<ipc::Segment> segment_;
  ipc::ClientSlotClaim claim_;
  std::unique_ptr<ClientChannel> channel_;
  std::mt19937_64 rng_;
  uint64_t client_id_ = 0;
  uint64_t next_sequence_ = 1;
  uint64_t next_serial_ = 1;
  uint32_t leader_ = 0;                   // node id, 0 = none known
  uint64_t followed_leader_term_ = 0;     // of the newest leader record acted on
  uint64_t followed_candidate_term_ = 0;  // of the newest candidate named in the record, acted on
  uint32_t round_robin_ = 0;
  std::vector<Pending> pending_;  // `pipeline` entries
  std::size_t outstanding_ = 0;
  // By node slot: the outstanding requests with an attempt written there, which may still be answered
  // there; a bit per node slot with any (ipc::kMaxNodes <= 32).
  std::array<uint16_t, ipc::kMaxNodes> owing_{};
  uint32_t owing_nodes_ = 0;
  static_assert(ipc::kMaxNodes <= 32);
  uint64_t next_timer_ns_ = std::numeric_limits<uint64_t>::max();  // a lower bound of every deadline
  uint64_t finished_ = 0;
  const Callback* on_done_ = nullptr;  // during receive()
  uint64_t batch_receive_ns_ = 0;      // during receive(): when its replies were read (0: none yet)
};

}  // namespace shmraft::client
