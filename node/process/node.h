#pragma once
// One Raft node as a process: the single-threaded loop of DESIGN §3 that joins the segment's rings, the
// Raft core, the durable log and the KV state machine.
//
//   drain peer rings (step) and client rings (propose / read_index; about one tick's worth per iteration,
//   request_room()), waiting for the doorbell or the next tick only when the previous iteration found
//   nothing and left no Ready -> tick -> delayed frames due
//   -> for each Ready, until about a tick has passed (raft::ReadyHandler; this class is its ReadyHost;
//      at most 32 KiB of committed entries each): send messages (published before
//      persisting when fsync != none, §10.2.1), persist + ONE sync, send messages_after_persist, publish,
//      apply committed entries, answer the writes they complete, serve reads, advance [, check invariants]
//   -> send what the snapshot transfers' windows allow (SnapshotSender: the core's InstallSnapshot goes in
//      chunks read from the snapshot file; chunk frames from peers go to SnapshotSender / SnapshotReceiver,
//      never to the core) -> publish every ring -> maybe snapshot -> counters
//
// A leader's snapshot is installed off the loop: chunks are written to a partial file as they arrive
// (SnapshotReceiver), a thread flushes the whole file and restores a state machine from it
// (SnapshotInstaller), and only then is the core stepped with the InstallSnapshot (data-less: the file
// is the data), whose Ready renames the file into snap/ and swaps the state machine in. Until then the
// core does not know of the snapshot: it answers heartbeats, and it rejects appends that need the
// snapshot's entries (their previous entry is not in its log), as Raft has it; the leader, which waits
// for the InstallSnapshotResponse, sends none but heartbeats, and offers it again after a timeout,
// which the receiver answers "done" without a byte sent. A core that has moved past the snapshot by
// then (a newer leader sent the entries) answers as it would any stale InstallSnapshot, and the file and
// the state machine are dropped.
//
// Death known at once (issue 13, ipc/liveness.h): the node claims its liveness cells for its lifetime and
// sleeps on its peers' cells as well as its doorbell; the kernel wakes it when a peer's process dies and
// a follower of that peer starts a pre-election (Core::peer_down), staggered by log position. It bumps
// its progress counter every iteration and says until when it sleeps, and a new leader publishes itself
// in the segment's leader record for clients. Frozen leaders (ipc/progress.h, --stall-us): a follower
// looks at its leader's progress counter at most once per stall time, sleeps no later than the leader is
// due to have moved, and suspects a leader that did not, and that the kernel says is stopped, as it
// would a dead one.
//
// Nothing on this path logs or makes a system call per entry: ring frames are encoded in place, a Ready
// is synced once, clocks are read once per phase per iteration. Once queues and buffers have grown it
// allocates nothing either, except a get's key longer than its reused slot's string capacity so far, and
// frames held back by fault injection (delay).
#include <spdlog/logger.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipc/clock.h"
#include "ipc/segment.h"
#include "node/kv/state_machine.h"
#include "node/process/client_requests.h"
#include "node/process/client_wire.h"
#include "node/process/forked_snapshot.h"
#include "node/process/node_counters.h"
#include "node/process/node_options.h"
#include "node/process/peer_sender.h"
#include "node/process/raft_storage.h"
#include "node/process/retirer.h"
#include "node/process/snapshot_installer.h"
#include "node/process/snapshot_receiver.h"
#include "node/process/snapshot_sender.h"
#include "node/process/transport.h"
#include "node/raft/codec.h"
#include "node/raft/core.h"
#include "node/raft/ready_handler.h"
#include "node/storage/node_storage.h"

namespace spdlog {
class logger;
}

namespace shmraft::node {

class Node final : private Transport::Sink, private raft::ReadyHost {
 public:
  // Attaches to the segment, opens (and recovers) the data directory, restores the KV snapshot and
  // builds the core. Throws (ipc::SegmentError, storage::StorageError, std::invalid_argument, ...) with
  // a message naming what is wrong.
  Node(const NodeOptions& options, spdlog::logger& log);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Runs the loop until `stop` becomes non-zero (a signal handler sets it).
  void run(const volatile std::sig_atomic_t& stop);

  const raft::Core& core() const noexcept { return *core_; }

 private:
  enum class DownCause : uint8_t { kDied, kStalled };
  struct PeerDown {
    uint32_t node = 0;
    DownCause cause = DownCause::kDied;
    raft::Term term = 0;               // the term the lost node led, if it was this node's leader
    int stagger_ticks = -1;            // the pre-election's delay; -1: it was not this node's leader
    spdlog::log_clock::time_point at;  // when it was taken: the held line carries this time
  };
  // ClientRequests' view of the node: the core, the state machine, the clock and the reply channels.
  class RequestHost {
   public:
    explicit RequestHost(Node& node) : node_(node) {}
    raft::Role role() const noexcept { return node_.core_->role(); }
    raft::NodeId leader() const noexcept { return node_.core_->leader(); }
    raft::ProposeResult propose(std::span<const std::byte> command) { return node_.core_->propose(command); }
    raft::Status read_index(uint64_t context) { return node_.core_->read_index(context); }
    raft::ProposeResult propose_conf_change(const raft::ConfChange& change) {
      return node_.core_->propose_conf_change(change);
    }
    raft::Status transfer_leader(raft::NodeId target) { return node_.core_->transfer_leader(target); }
    const raft::ConfState& conf_state() const noexcept { return node_.core_->conf_state(); }
    raft::Index commit_index() const noexcept { return node_.core_->commit_index(); }
    raft::Index applied_index() const noexcept { return node_.kv_.applied_index(); }
    std::optional<std::string_view> get(std::string_view key) const { return node_.kv_.get(key); }
    uint64_t now_ns() const noexcept { return ipc::monotonic_ns(); }
    uint32_t max_reply_payload() const noexcept { return node_.transport_->max_reply_payload(); }
    std::byte* reserve_reply(uint32_t slot, uint32_t length) {
      return node_.transport_->reserve_reply(slot, length);
    }
    void commit_reply(uint32_t slot, uint32_t length) { node_.transport_->commit_reply(slot, length); }

   private:
    Node& node_;
  };

  // Transport::Sink
  void on_peer_frame(uint32_t from, std::span<const std::byte> payload) override;
  void on_client_request(uint32_t slot, std::span<const std::byte> payload) override;
  void on_chunk_frame(uint32_t from, std::span<const std::byte> payload);
  // The receiver holds a whole, verified image: the installer restores it off the loop.
  void start_install(const ChunkFrame& last);
  // The installer is done: the core gets the snapshot as one InstallSnapshot (or the image is dropped).
  void finish_install();
  // Handles the core's Readies, the first whatever the time, further ones until `budget_ns` has passed.
  void handle_readies(uint64_t budget_ns = UINT64_MAX);
  // The image of the core's InstallSnapshot: the snapshot file, if it still holds that snapshot.
  std::shared_ptr<const SnapshotImage> snapshot_image(const raft::InstallSnapshot& m);
  bool has_wake_event() const noexcept override { return deaths_.pending(); }
  // At most about one tick of client intake per iteration (the clock read once per kRequestChunk): after
  // a burst (65 536 requests resent to a new leader) a leader still reads its followers' answers and
  // ticks every few milliseconds, instead of judging CheckQuorum, and sending heartbeats, only after an
  // intake that outlasted the election timeout. The requests left wait in their rings.
  std::size_t request_room() noexcept override;
  // Not while this node campaigns in the term it announced to the clients (a death-started election):
  // their requests wait in the rings until the receive that reads the deciding vote, which then takes
  // them, so the no-op and the first writes share one append. A lost election reads them as a follower
  // and redirects them; safety does not depend on it (terms and votes decide who leads).
  bool takes_requests() const noexcept override;
  bool spin_pays() const noexcept override;

  std::size_t iterate(Transport::Clock::time_point deadline);
  void tick_until(uint64_t now_ns);
  // Before the first frame of an iteration is stepped: the ticks slept through, so the core's timers
  // stand where they would had it woken for every tick (a heartbeat resets them after, not before),
  // then the deaths the kernel reported, so a pre-vote that arrived with them finds the leader forgotten.
  void catch_up();
  void take_deaths();
  // A follower whose leader's progress counter stood still past its deadline suspects it (peer_down).
  void watch_leader_progress(uint64_t now_ns);
  // Tells the core `peer` is gone (a pre-election if it led this node) and notes it for the log.
  void report_peer_down(uint32_t peer, DownCause cause);
  void log_peers_down();
  void log_roles();
  // A held line, stamped with the time of what it tells rather than the time it is written.
  void log_held(spdlog::log_clock::time_point at, spdlog::level::level_enum level, std::string_view line);
  // Writes the held peer-down and role-change lines once kLogHoldNs has passed since the first of them.
  void log_held_lines(uint64_t now_ns);
  // The leader this follower watches the progress of, or raft::kNoNode.
  raft::NodeId watched_leader() const noexcept;
  // Whether `peer` died (as taken from the watch) and has not started again.
  bool is_dead(uint32_t peer);
  // How many live peers have a more up-to-date log than this node's (ties: the lower node first), as
  // their counters say: this node's place, in ticks, in the stagger of elections after a death.
  int stagger_rank(uint32_t dead) const;

  // raft::ReadyHost: the node's side of each Ready (ready_handler.h), stamped with ready_ns_.
  friend class raft::ReadyHandler;
  void on_soft_state(const raft::SoftState& soft) override;
  void send(const raft::Message& message) override;
  void send_after_persist(const raft::Message& message) override { send(message); }
  void persist(const raft::Ready& ready) override;
  void restore(const raft::Snapshot& snapshot) override;
  void apply(std::span<const raft::Entry> entries) override;
  void serve_reads(std::span<const raft::ReadState> reads) override;

  // Starts a snapshot once enough log was applied, or at once when the snapshot sender found this node's
  // snapshot file damaged (its followers need an intact one): a forked child writes it
  // (forked_snapshot.h), the loop only forks, renames the file the child wrote into place, and compacts
  // the log once the child made the rename durable.
  void maybe_snapshot(uint64_t now_ns);
  void advance_forked_snapshot(uint64_t now_ns);
  void install_forked_snapshot();
  void compact_after_snapshot();
  void publish_counters(uint64_t now_ns);
  void log_repaired();  // once the core left lost mode
  // A leader that became a follower in its own term: CheckQuorum (or its removal) deposed it. Says when
  // each voter was last heard from and how long this iteration's intake ran, to tell a lost quorum from
  // answers not read in time.
  void log_step_down();
  uint64_t next_deadline_ns() const;

  NodeOptions options_;
  spdlog::logger& log_;
  ipc::Segment segment_;
  ipc::NodeCounters& counters_;
  ipc::LivenessClaim liveness_;  // held for the process's life: its end tells the peers at once
  ipc::DeathWatch deaths_;
  ipc::ProgressCounter& progress_;
  std::optional<ipc::ProgressWatch> leader_progress_;  // engaged when --stall-us is not 0
  // This start's (raft::Config::incarnation), larger than any earlier start's whatever the directory holds
  // (it may have been wiped): the wall clock, and past what the previous start published in the segment,
  // which outlives the process. Also names the directory damaged files are set aside in.
  uint64_t incarnation_;
  storage::NodeStorage storage_;  // opened by storage::open_or_set_aside
  RaftStorage raft_storage_;
  kv::StateMachine kv_;
  std::unique_ptr<raft::Core> core_;
  std::unique_ptr<Transport> transport_;
  PeerSender sender_;
  std::vector<std::string> receiver_notes_;       // what the snapshot receiver found at start, to log
  Retirer retirer_;                               // before the sender: its images are retired here
  SnapshotSender snapshot_sender_;                // InstallSnapshot to followers, in chunks
  SnapshotReceiver snapshot_receiver_;            // InstallSnapshot from the leader, into a partial file
  SnapshotInstaller installer_;                   // restores a whole received image off the loop
  std::optional<kv::StateMachine> installed_kv_;  // restored, until the core's Ready swaps it in
  uint32_t install_from_ = 0;                     // the leader and term that sent the image installed
  raft::Term install_term_ = 0;
  raft::ReadyHandler ready_handler_;
  uint64_t ready_ns_ = 0;  // when the Ready being handled was taken

  raft::DecodeScratch scratch_;
  uint64_t tick_ns_;
  uint64_t next_tick_ns_ = 0;
  bool caught_up_ = false;         // catch_up() ran in this iteration
  uint64_t intake_start_ns_ = 0;   // this iteration's first request_room()
  uint64_t requests_taken_ = 0;    // client requests handed over in this iteration
  uint64_t requests_granted_ = 0;  // ... and how many request_room() allowed so far
  bool ticks_deferred_ = false;    // catch_up() left a leader's missed ticks for after its frames
  uint64_t frames_in_ = 0;
  ipc::NodeMask heard_from_ = 0;         // peers whose frames this iteration read
  std::vector<uint64_t> last_heard_ns_;  // by node id: when a frame of that peer was last read, 0 = never
  uint64_t bad_peer_frames_ = 0;         // frames that arrived intact but did not decode
  uint64_t bad_client_frames_ = 0;       // requests without a readable header
  uint64_t elections_ = 0;
  // Elections the core started from peer_down (its elections_by_peer_down), split by what prompted them.
  uint64_t peer_down_elections_seen_ = 0;
  DownCause last_down_cause_ = DownCause::kDied;
  uint64_t death_elections_ = 0;
  uint64_t stall_elections_ = 0;
  uint64_t stalls_seen_ = 0;
  uint64_t votes_granted_before_ = 0;  // by this node's earlier starts: the counter spans them
  uint64_t lost_ = 0;              // the core's lost mark as last logged: the repair is logged once it clears
  bool oversized_warned_ = false;  // the first message too large for a peer frame was logged
  raft::Role role_ = raft::Role::kFollower;
  ipc::NodeMask dead_peers_ = 0;        // deaths taken, until the peer claims its cells again
  std::vector<PeerDown> downs_to_log_;  // held, then logged (log_held_lines)
  raft::Term leader_term_ = 0;          // the term this node leads in; 0 = not leading
  bool announce_pending_ = false;       // leader_term_ goes to the leader record once the appends are out
  raft::Term candidacy_term_ = 0;       // the term of this node's last death-started election
  bool candidacy_pending_ = false;      // ... goes to the leader record once the vote requests are out
  struct RoleChange {
    raft::SoftState soft;
    raft::Term term = 0;
    uint64_t requests = 0;             // becoming leader: client requests read in the electing iteration
    spdlog::log_clock::time_point at;  // when it happened: the held line carries this time
  };
  std::vector<RoleChange> roles_to_log_;  // held, then logged (log_held_lines)
  uint64_t log_due_ns_ = 0;               // when the held lines are written; 0: none held
  ClientRequests<RequestHost> requests_{RequestHost(*this)};

  uint64_t applied_bytes_since_snapshot_ = 0;
  uint64_t damaged_snapshots_replaced_ =
      0;                            // SnapshotSender::images_damaged() an installed snapshot answered
  uint64_t replacing_damaged_ = 0;  // ... and the one the running child will answer once installed
  uint64_t damaged_retry_ns_ = 0;   // after a failed replacement, no new try before this time
  raft::Index snapshot_index_ = 0;
  ForkedSnapshot forked_snapshot_;
  uint64_t install_ns_ = 0;             // how long the rename of the latest forked snapshot held the loop
  uint64_t next_snapshot_poll_ns_ = 0;  // a running child is asked about at most once a millisecond
};

}  // namespace shmraft::node
