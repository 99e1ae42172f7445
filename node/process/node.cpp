#include "node/process/node.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "ipc/clock.h"
#include "ipc/process_state.h"
#include "node/process/shm_transport.h"
#include "node/process/snapshot_stagger.h"
#include "node/process/tcp_transport.h"
#include "node/storage/format.h"
#include "node/storage/set_aside.h"
#include "node/storage/state_detection.h"

namespace shmraft::node {
namespace {

using ipc::monotonic_ns;

uint64_t role_code(raft::Role role) noexcept {
  switch (role) {
    case raft::Role::kFollower:
      return kRoleFollower;
    case raft::Role::kPreCandidate:
      return kRolePreCandidate;
    case raft::Role::kCandidate:
      return kRoleCandidate;
    case raft::Role::kLeader:
      return kRoleLeader;
  }
  return kRoleFollower;
}

ipc::Segment attach_segment(const NodeOptions& options) {
  validate(options);
  ipc::Segment segment = ipc::Segment::attach(options.cluster, options.cluster_id);
  // Ids above the initial voters start as non-members and learn their membership from the log.
  if (options.node < 1 || options.node > segment.max_nodes())
    throw std::invalid_argument("--node " + std::to_string(options.node) + " is not a node of cluster '" +
                                options.cluster + "': node id out of range 1.." +
                                std::to_string(segment.max_nodes()));
  return segment;
}

std::unique_ptr<Transport> make_transport(const NodeOptions& options, ipc::Segment& segment) {
  const std::chrono::nanoseconds spin(uint64_t{options.spin_us} * 1000);
  if (options.transport == TransportKind::tcp)
    return std::make_unique<TcpTransport>(segment, options.node, options.wait, spin);
  return std::make_unique<ShmTransport>(segment, options.node, options.wait, spin);
}

// How often the loop looks whether the installer is done, while it works.
constexpr uint64_t kInstallPollNs = 1'000'000;
// Client requests taken between two looks at the clock against the iteration's intake budget: the
// budget is overrun by at most this many (~0.1-0.5 ms), and the clock costs ~1 ns per request.
constexpr uint64_t kRequestChunk = 64;
// Committed entries' payload bytes per Ready (~400 puts of 64 B): the loop stops taking Readies once
// about a tick has gone by, so this bounds the apply that can overrun it. After a snapshot's fork the
// parent's first write to each page of the state machine faults (~65-100 us each on this VM under load,
// 2 000-3 000 of them): applied in one Ready, 4 000 entries took 258 ms and the followers elected another
// leader.
constexpr std::size_t kCommittedBytesPerReady = 32 << 10;

// How long a fail-over's log lines (peer down, role changes) are held: a line is a format and a write(2)
// of 5-20 us, and at `bench --failover --nodes 5` the survivors' lines (~90 us a death) ran on the 2 CPUs
// while the candidate waited for one. A node killed meanwhile loses them.
constexpr uint64_t kLogHoldNs = 20'000'000;

// How long after a failed fork or child a damaged snapshot is tried again ("in 1 s" in the logs).
constexpr uint64_t kDamagedRetryNs = 1'000'000'000;

uint64_t realtime_ns() noexcept {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// The launcher may give every node the same --seed: mix in the node so their election timers differ.
uint64_t node_seed(const NodeOptions& options) {
  const uint64_t seed = options.seed.value_or(monotonic_ns() ^ (static_cast<uint64_t>(getpid()) << 32));
  return seed ^ (uint64_t{options.node} * 0x9E3779B97F4A7C15ull);
}

// Chunks of an eighth of a frame, four in flight: at most half a frame's worth of a follower's ring goes
// to its snapshot, beside the core's appends (max_msg_bytes below) and heartbeats. Retries follow the
// election timeout, the core's own clock for a lost InstallSnapshot. Giving up waits far longer: a dead
// follower is known at once from the kernel (peer_died), while a live one may be silent for seconds
// once the last chunk is in, verifying, installing and storing a large image before it answers.
SnapshotSender::Options snapshot_sender_options(const Transport& transport, const NodeOptions& options) {
  SnapshotSender::Options o;
  o.chunk_bytes = std::max<std::size_t>(1024, transport.max_peer_payload() / 8) - kChunkHeaderBytes;
  o.window_chunks = 4;
  const uint64_t election_ns = uint64_t{options.tick_us} * 1000 * options.election_ticks;
  o.retry_ns = election_ns / 2;
  o.give_up_ns = 100 * election_ns;
  return o;
}

}  // namespace

Node::Node(const NodeOptions& options, spdlog::logger& log)
    : options_(options),
      log_(log),
      segment_(attach_segment(options)),
      counters_(segment_.node_counters(options.node)),
      liveness_(segment_.claim_liveness(options.node)),
      deaths_(segment_.watch_deaths(options.node)),
      progress_(segment_.progress(options.node)),
      leader_progress_(options.stall_us == 0 ? std::nullopt
                                             : std::optional(segment_.watch_progress(
                                                   std::chrono::microseconds(options.stall_us)))),
      incarnation_(std::max(realtime_ns(), counters_.incarnation.load(std::memory_order_relaxed) + 1)),
      storage_(storage::open_or_set_aside(
          options.data_dir, storage::Options{options.segment_bytes, options.fsync}, incarnation_,
          [&log](const std::string& note) { log.warn("storage: {}", note); })),
      raft_storage_(storage_),
      transport_(make_transport(options, segment_)),
      sender_(*transport_, segment_, options.node, node_seed(options) + 1),
      snapshot_sender_(
          sender_, options.node, snapshot_sender_options(*transport_, options),
          [this](const raft::InstallSnapshot& m) { return snapshot_image(m); }, log),
      snapshot_receiver_(options.data_dir / kPartialSnapshotFile, options.node, receiver_notes_),
      installer_(options.testing_install_delay_ms),
      ready_handler_(options.check_invariants),
      tick_ns_(uint64_t{options.tick_us} * 1000),
      forked_snapshot_(storage_.snapshot_staging_file(), storage_.snapshot_file(),
                       options.fsync != storage::Durability::none) {
  for (const std::string& note : storage_.recovery().notes) log_.warn("storage recovery: {}", note);
  for (const std::string& note : receiver_notes_) log_.info("snapshot transfer: {}", note);
  applied_bytes_since_snapshot_ =
      snapshot_head_start(options.node, segment_.node_count(), options.snapshot_bytes);

  if (std::optional<storage::Snapshot> snapshot = storage_.load_snapshot()) {
    kv_.restore(snapshot->data);
    snapshot_index_ = snapshot->meta.last_index;
    if (kv_.applied_index() != snapshot_index_)
      throw std::runtime_error("snapshot in " + options.data_dir.string() + " covers index " +
                               std::to_string(snapshot_index_) + " but its KV state is at index " +
                               std::to_string(kv_.applied_index()));
  }

  raft::Config config;
  config.id = options.node;
  config.voters = raft::voters_numbered_1_to(segment_.node_count());  // changes come from the log
  config.max_nodes = segment_.max_nodes();
  config.seed = node_seed(options);
  config.election_tick = static_cast<int>(options.election_ticks);
  config.heartbeat_tick = static_cast<int>(options.heartbeat_ticks);
  config.broadcast_commit = options.eager_commit;
  // Keep what may be in flight to one follower within about half its ring, so a slow follower makes
  // the leader wait (flow control) rather than overflow the ring (drops and retransmissions).
  config.max_msg_bytes = std::max<std::size_t>(4096, transport_->max_peer_payload() / 16);
  config.max_inflight_msgs = 8;
  config.max_committed_bytes = kCommittedBytesPerReady;
  config.applied = snapshot_index_;
  const uint64_t previous_incarnation = counters_.incarnation.load(std::memory_order_relaxed);
  config.incarnation = incarnation_;
  // A wiped directory of a node that ran before, a damaged hard-state slot, damaged files set aside: it
  // may have voted and acknowledged with what it lost, so it votes on nothing until the leader has
  // repaired it (node/raft/core.h, "Lost state").
  const storage::Detection stored =
      storage::detect_stored_state(storage_, previous_incarnation, config.incarnation);
  config.state_lost = stored.state == storage::StoredState::kLost;
  if (config.state_lost)
    log_.warn("storage: lost state (directory {}): {}; no votes until the leader repairs this node",
              options.data_dir.string(), stored.why);
  core_ = std::make_unique<raft::Core>(config, raft_storage_);
  lost_ = core_->lost();  // also after a restart while lost (HardState::lost)
  last_heard_ns_.assign(segment_.max_nodes() + 1, 0);

  ipc::NodeCounters::set(counters_.pid, static_cast<uint64_t>(getpid()));
  // A port left by an earlier run over TCP would send peers and clients to a dead socket.
  if (options.transport == TransportKind::shm) ipc::NodeCounters::set(counters_.tcp_port, 0);
  ipc::NodeCounters::set(counters_.elections, 0);
  ipc::NodeCounters::set(counters_.oversized, 0);
  ipc::NodeCounters::set(counters_.death_elections, 0);
  ipc::NodeCounters::set(counters_.stall_elections, 0);
  ipc::NodeCounters::set(counters_.stalls_seen, 0);
  ipc::NodeCounters::set(counters_.progress_resets, 0);
  ipc::NodeCounters::set(counters_.repairs, 0);
  votes_granted_before_ = counters_.votes_granted.load(std::memory_order_relaxed);
  ipc::NodeCounters::set(counters_.incarnation, config.incarnation);
  ipc::NodeCounters::set(counters_.hard_state_slots_skipped, storage_.recovery().hard_state_slots_skipped);
  const storage::HardState& hs = storage_.hard_state();
  log_.info(
      "node {} of cluster '{}' ({} nodes) up: data {}, log [{}, {}], term {}, vote {}, commit {}, "
      "snapshot {}, fsync {}, wait {}, transport {}, tick {} us, election {} ticks, heartbeat {} ticks, "
      "stall {} us",
      options.node, options.cluster, segment_.node_count(), options.data_dir.string(), storage_.first_index(),
      storage_.last_index(), hs.term, hs.vote, hs.commit, snapshot_index_, storage::to_string(options.fsync),
      ipc::to_string(options.wait), to_string(options.transport), options.tick_us, options.election_ticks,
      options.heartbeat_ticks, options.stall_us);
}

Node::~Node() = default;

void Node::run(const volatile std::sig_atomic_t& stop) {
  // The thread whose exit tells the peers of this node's death runs as the loop does (under --realtime,
  // a real-time loop woken by it would otherwise hold it off the rest of the peers' cells).
  if (const int error = liveness_.schedule_holder_like_this_thread(); error != 0)
    log_.warn(
        "the liveness holder keeps its scheduling policy ({}): peers may hear of this node's death late",
        std::system_category().message(error));
  std::optional<ipc::DeathWatch::Binding> wake_on_death;  // while bound, a death ends the sleep
  wake_on_death.emplace(&deaths_);
  next_tick_ns_ = monotonic_ns() + tick_ns_;
  std::size_t frames = 1;
  while (stop == 0) {
    // Wait only when the last iteration found nothing and left no Ready: otherwise look again at once.
    Transport::Clock::time_point deadline = Transport::Clock::now();
    if (frames == 0 && !core_->has_ready()) {
      const uint64_t now_ns = monotonic_ns();
      // Falling asleep, perhaps because the leader stopped sending: its stall clock starts no later.
      const raft::NodeId leader = watched_leader();
      if (leader != raft::kNoNode) leader_progress_->observe(now_ns);
      // Of the followers only the one ranked first at its leader's death campaigns at once; the others
      // learn of the death from its vote request, or at the watch's next look at the leader (a stall time
      // at most) should it not campaign. Woken at the death they held the 2 CPUs from it: 4 survivors
      // of `bench --failover --nodes 5`, each for 50-80 us, and the candidate often ran third or fourth.
      // The best follower always sees itself first: the others' published logs are no further than
      // their final ones, which its own equals or beats.
      // A follower whose lease holds a vote request listens too: the request can come before the kernel
      // marked this node's cell. The dying holder thread marks the cells one by one, and the survivor it
      // woke first may take its CPU in between (a real-time loop preempts it at once): the check before
      // the frame found no death, and unbound this node heard of it only at its watch's next look (the
      // stall time, 2 ms): 4 of 10 leader kills of `bench --failover --realtime` in a trace.
      const bool wake = leader == raft::kNoNode || stagger_rank(leader) == 0 || core_->holds_vote_requests();
      if (wake && !wake_on_death)
        wake_on_death.emplace(&deaths_);
      else if (!wake)
        wake_on_death.reset();
      const uint64_t wake_ns = next_deadline_ns();
      if (wake_ns > now_ns) deadline += std::chrono::nanoseconds(wake_ns - now_ns);
      progress_.idle_until(wake_ns);
    }
    frames = iterate(deadline);
  }
  transport_->flush();
  log_peers_down();
  log_roles();
  storage_.sync();
  if (leader_term_ != 0) segment_.leader_record().withdraw(options_.node, leader_term_);
  ipc::NodeCounters::set(counters_.role, kRoleStopped);
  ipc::NodeCounters::set(counters_.updated_ns, monotonic_ns());
  log_.info("node {} stopping: term {}, commit {}, applied {}, log [{}, {}]", options_.node, core_->term(),
            core_->commit_index(), kv_.applied_index(), storage_.first_index(), storage_.last_index());
}

uint64_t Node::next_deadline_ns() const {
  // Sleep through the ticks that would only count; catch_up_ticks() delivers them on waking.
  uint64_t deadline = next_tick_ns_ + uint64_t(core_->ticks_until_due() - 1) * tick_ns_;
  if (std::optional<uint64_t> due = sender_.next_due_ns()) deadline = std::min(deadline, *due);
  if (std::optional<uint64_t> due = snapshot_sender_.next_due_ns()) deadline = std::min(deadline, *due);
  if (installer_.running()) deadline = std::min(deadline, monotonic_ns() + kInstallPollNs);
  if (log_due_ns_ != 0) deadline = std::min(deadline, log_due_ns_);
  // When the leader is due to have moved: an idle one says until when it sleeps, so this costs an idle
  // cluster about one wake-up per heartbeat.
  if (const raft::NodeId leader = watched_leader(); leader != raft::kNoNode)
    deadline = std::min(deadline, leader_progress_->next_check_ns(leader));
  return deadline;
}

std::size_t Node::iterate(Transport::Clock::time_point deadline) {
  caught_up_ = false;
  requests_taken_ = requests_granted_ = 0;
  const std::size_t frames = transport_->receive(*this, deadline);
  catch_up();
  const uint64_t now_ns = monotonic_ns();
  for (; heard_from_ != 0; heard_from_ &= heard_from_ - 1)
    last_heard_ns_[static_cast<uint32_t>(std::countr_zero(heard_from_))] = now_ns;
  progress_.bump(now_ns);  // awake: ends the sleep announced in run()
  // A leader deposed by one of the frames just read heard its successor: its backlog of ticks, replayed
  // now as a follower's, would start an election against it. It drops them.
  if (std::exchange(ticks_deferred_, false) && core_->role() != raft::Role::kLeader &&
      now_ns >= next_tick_ns_)
    next_tick_ns_ = now_ns - (now_ns - next_tick_ns_) % tick_ns_ + tick_ns_;
  tick_until(now_ns);
  sender_.release_due(now_ns);
  requests_.finish_batch();

  if (installer_.running() && installer_.finished()) finish_install();
  handle_readies(tick_ns_);
  if (lost_ != 0 && core_->lost() == 0) log_repaired();
  if (snapshot_sender_.active()) snapshot_sender_.pump(monotonic_ns());

  // Before the frames that wake the followers, which watch a leader's progress: whether it took work,
  // and if not the sleep it plans. An idle leader's heartbeat then costs each follower one wake-up,
  // not a second one a stall time later to find the leader asleep (ipc/progress.h).
  if (requests_taken_ != 0)
    progress_.took_work();
  else if (core_->role() == raft::Role::kLeader)
    progress_.idle_until(next_deadline_ns());
  transport_->flush();
  // After the first appends went out, not before: the no-op's round, which every first write waits for,
  // starts before the clients' wake-ups (16 of them cost ~90 us in `bench --failover --clients 16`).
  if (std::exchange(announce_pending_, false)) segment_.announce_leader(options_.node, leader_term_);
  // Likewise the candidacy, after the vote requests.
  if (std::exchange(candidacy_pending_, false) && !takes_requests())
    segment_.announce_candidate(options_.node, candidacy_term_);
  // Likewise the log, and later still: the vote requests, votes and acks of a fail-over each waited for
  // a line's write(2), and the lines of the nodes that only vote took the CPUs the candidate needed.
  log_held_lines(now_ns);
  maybe_snapshot(now_ns);
  publish_counters(now_ns);
  return frames;
}

bool Node::takes_requests() const noexcept {
  return core_->role() != raft::Role::kCandidate || core_->term() != candidacy_term_;
}

bool Node::spin_pays() const noexcept {
  // A leaderless follower (its leader died, or it voted in a new term) waits for a candidate's vote
  // request or a new leader's append: at `bench --failover --nodes 5` the 3 voters spun for them on the
  // 2 CPUs the candidate needed.
  if (core_->role() != raft::Role::kFollower) return true;
  const raft::NodeId leader = core_->leader();
  return leader != raft::kNoNode && (dead_peers_ & ipc::node_bit(leader)) == 0;
}

std::size_t Node::request_room() noexcept {
  if (!takes_requests()) return 0;
  if (requests_taken_ < requests_granted_) return requests_granted_ - requests_taken_;
  const uint64_t now_ns = monotonic_ns();
  if (requests_granted_ == 0)
    intake_start_ns_ = now_ns;  // after the wait and the peers' frames: the budget is the clients' alone
  else if (now_ns - intake_start_ns_ >= tick_ns_)
    return 0;
  requests_granted_ = requests_taken_ + kRequestChunk;
  return kRequestChunk;
}

void Node::handle_readies(uint64_t budget_ns) {
  const uint64_t start_ns = monotonic_ns();
  for (bool first = true; core_->has_ready(); first = false) {
    ready_ns_ = monotonic_ns();
    if (!first && ready_ns_ - start_ns >= budget_ns) return;  // the rest next iteration (run() won't sleep)
    ready_handler_.handle(*core_, *this);
  }
}

void Node::tick_until(uint64_t now_ns) {
  if (now_ns < next_tick_ns_) return;
  // After a long stall (stopped process, overloaded host) do not replay every missed tick: a follower's
  // randomized election timeout is under two election timeouts. The replay goes over in one call: a
  // leader's CheckQuorum then counts the answers it has just read as heard at its end (raft::Core::tick),
  // not as old as the replay (a leader's iteration of 150-300 ms at 4 096 clients).
  const uint64_t most = 2 * uint64_t{options_.election_ticks};
  const uint64_t behind = std::min<uint64_t>((now_ns - next_tick_ns_) / tick_ns_ + 1, most);
  core_->tick(static_cast<int>(behind));
  next_tick_ns_ = now_ns - (now_ns - next_tick_ns_) % tick_ns_ + tick_ns_;
  ipc::NodeCounters::set(counters_.bad_frames,
                         bad_peer_frames_ + bad_client_frames_ + transport_->bad_frames());
  // A message too large for a frame would be offered again and again: count every time, warn once.
  ipc::NodeCounters::set(counters_.oversized, sender_.oversized());
  if (sender_.oversized() != 0 && !oversized_warned_) {
    oversized_warned_ = true;
    log_.warn(
        "a message was larger than a peer frame ({} bytes) and could not be sent (a bug: snapshots go in "
        "chunks and appends stay within a fraction of a frame); further ones are only counted, in the "
        "counter 'oversized'",
        transport_->max_peer_payload());
  }
}

void Node::catch_up() {
  if (caught_up_) return;
  caught_up_ = true;
  const uint64_t now_ns = monotonic_ns();
  // A follower's missed ticks run before the frames that waited, so a heartbeat among them restarts its
  // timer after them, not before. A leader's run after them (iterate's tick_until): CheckQuorum must
  // judge a long iteration by the answers waiting in its rings, or it steps down with a quorum's
  // answers unread (4 096 clients: 50-150 ms iterations stepped leaders down every few seconds).
  if (core_->role() != raft::Role::kLeader)
    tick_until(now_ns);
  else
    ticks_deferred_ = true;
  if (deaths_.pending()) take_deaths();
  watch_leader_progress(now_ns);
}

void Node::take_deaths() {
  const ipc::NodeMask dead = deaths_.take();
  if (dead != 0) ipc::NodeCounters::set(counters_.death_taken_ns, monotonic_ns());
  for (uint32_t peer = 1; peer <= segment_.max_nodes(); ++peer) {
    if ((dead & ipc::node_bit(peer)) == 0) continue;
    dead_peers_ |= ipc::node_bit(peer);
    snapshot_sender_.peer_died(peer);
    report_peer_down(peer, DownCause::kDied);
  }
}

raft::NodeId Node::watched_leader() const noexcept {
  if (!leader_progress_ || core_->role() != raft::Role::kFollower) return raft::kNoNode;
  const raft::NodeId leader = core_->leader();
  return leader == options_.node ? raft::kNoNode : leader;
}

void Node::watch_leader_progress(uint64_t now_ns) {
  const raft::NodeId leader = watched_leader();
  // Read the counters only when the last reading says the leader may be overdue: once per stall time
  // at most, however busy the loop.
  if (leader == raft::kNoNode || now_ns < leader_progress_->next_check_ns(leader)) return;
  leader_progress_->observe(now_ns);
  if (!leader_progress_->stalled(leader, now_ns)) return;
  // Runnable (starved) or asleep (a timer, the disk): slow, not frozen; the election timeout judges it.
  const ipc::ProcessState state = ipc::node_process_state(segment_, leader);
  if (!ipc::may_be_frozen(state)) {
    leader_progress_->vouch(leader, now_ns);
    return;
  }
  // Once per stall time at most, should the core not campaign (say this node may not).
  leader_progress_->restart(leader, now_ns);
  if (state == ipc::ProcessState::kGone) {
    // Dead by the kernel's word, only read before its death cell told us: the main thread has exited
    // while the thread whose exit releases the claim waits for a CPU (seen: 105 ms on a loaded host).
    ipc::NodeCounters::set(counters_.death_taken_ns, now_ns);
    return report_peer_down(leader, DownCause::kDied);
  }
  ++stalls_seen_;
  ipc::NodeCounters::set(counters_.stall_taken_ns, now_ns);
  report_peer_down(leader, DownCause::kStalled);
}

void Node::report_peer_down(uint32_t peer, DownCause cause) {
  const int rank = stagger_rank(peer);
  if (core_->peer_down(peer, rank)) {
    last_down_cause_ = cause;
    downs_to_log_.push_back({peer, cause, core_->term(), rank, spdlog::log_clock::now()});
  } else if (cause == DownCause::kDied) {
    downs_to_log_.push_back({peer, cause, 0, -1, spdlog::log_clock::now()});
  }
}

void Node::log_held_lines(uint64_t now_ns) {
  if (roles_to_log_.empty() && downs_to_log_.empty()) return;
  if (log_due_ns_ == 0) log_due_ns_ = now_ns + kLogHoldNs;
  if (now_ns < log_due_ns_) return;
  log_due_ns_ = 0;
  log_peers_down();
  log_roles();
}

void Node::log_repaired() {
  // Still a learner here: the leader promotes it once it holds the committed log (raft/core.h).
  log_.info(
      "repaired: left lost mode at commit {}, which marks this node's repair of lost start {}; it "
      "votes again once the leader promotes it",
      core_->commit_index(), lost_);
  lost_ = 0;
}

void Node::log_step_down() {
  const uint64_t now_ns = monotonic_ns();
  std::string heard;
  for (uint32_t peer = 1; peer <= segment_.max_nodes(); ++peer) {
    if (peer == options_.node || !core_->conf_state().voters.contains(peer)) continue;
    heard += fmt::format(", node {} ", peer);
    heard += last_heard_ns_[peer] == 0 ? std::string("never")
                                       : fmt::format("{:.1f} ms ago", (now_ns - last_heard_ns_[peer]) / 1e6);
  }
  log_.warn(
      "stepped down in term {} without a newer term: no quorum of voters answered within the election "
      "timeout ({} ms; CheckQuorum), or this node left the configuration; last frame read from each voter{}; "
      "this iteration's intake of {} client requests began {:.1f} ms ago",
      core_->term(), options_.election_ticks * tick_ns_ / 1'000'000, heard, requests_taken_,
      requests_granted_ == 0 ? 0.0 : (now_ns - intake_start_ns_) / 1e6);
}

void Node::log_peers_down() {
  for (const PeerDown& down : downs_to_log_) {
    const std::string what =
        down.cause == DownCause::kDied
            ? fmt::format("node {} died (the kernel says)", down.node)
            : fmt::format("leader {} made no progress for {} us and is stopped (the kernel says)", down.node,
                          options_.stall_us);
    if (down.stagger_ticks >= 0)
      log_held(
          down.at, spdlog::level::info,
          fmt::format("{}: it led term {}; pre-election in {} ticks", what, down.term, down.stagger_ticks));
    else
      log_held(down.at, spdlog::level::info, fmt::format("{}; it was not this node's leader", what));
  }
  downs_to_log_.clear();
}

bool Node::is_dead(uint32_t peer) {
  if ((dead_peers_ & ipc::node_bit(peer)) == 0) return false;
  if (!segment_.peer_alive(peer).alive) return true;
  dead_peers_ &= ~ipc::node_bit(peer);  // restarted: its frames are new
  return false;
}

int Node::stagger_rank(uint32_t dead) const {
  const uint64_t my_term = core_->term();
  const uint64_t my_last = core_->log().last_index();
  int rank = 0;
  for (uint32_t peer = 1; peer <= segment_.max_nodes(); ++peer) {
    if (peer == options_.node || peer == dead || !segment_.peer_alive(peer).alive) continue;
    const ipc::NodeCounters& theirs = segment_.node_counters(peer);
    const uint64_t term = theirs.term.load(std::memory_order_relaxed);
    const uint64_t last = theirs.last_index.load(std::memory_order_relaxed);
    if (term > my_term || (term == my_term && (last > my_last || (last == my_last && peer < options_.node))))
      ++rank;
  }
  return rank;
}

void Node::on_peer_frame(uint32_t from, std::span<const std::byte> payload) {
  catch_up();
  if (is_chunk_frame(payload)) return on_chunk_frame(from, payload);
  const raft::Decoded<raft::Message> decoded = raft::decode_message(payload, scratch_);
  if (!decoded || raft::message_from(decoded.value) != from) {
    ++bad_peer_frames_;
    return;
  }
  if (is_dead(from)) return;  // sent before it died: a dead leader's appends would revive it here
  ++frames_in_;
  heard_from_ |= ipc::node_bit(from);
  core_->step(decoded.value);
}

void Node::on_chunk_frame(uint32_t from, std::span<const std::byte> payload) {
  const std::optional<ChunkFrame> frame = decode_chunk(payload);
  if (!frame || frame->from != from || frame->to != options_.node) {
    ++bad_peer_frames_;
    return;
  }
  if (is_dead(from)) return;
  ++frames_in_;
  const uint64_t now_ns = monotonic_ns();
  if (frame->kind == ChunkKind::kAck || frame->kind == ChunkKind::kNack || frame->kind == ChunkKind::kDone) {
    snapshot_sender_.on_reply(*frame, now_ns);
    return;
  }
  const std::optional<ChunkFrame> reply = snapshot_receiver_.on_frame(*frame);
  if (!reply) return;  // busy installing another image: the sender asks again later
  if (snapshot_receiver_.complete() && !installer_.running() && !installed_kv_) start_install(*frame);
  // The leader offers again the image installed already: its core's wait for our answer ran out, or the
  // answer was lost. Only the core answers that (the receiver's kDone tells the sender alone): let it
  // answer again. It holds the snapshot (commit at or past it), so nothing is restored.
  if (frame->kind == ChunkKind::kOffer && snapshot_receiver_.installed(frame->id) &&
      frame->id.index <= core_->commit_index())
    core_->step(raft::InstallSnapshot{
        from, options_.node, frame->term, {frame->id.index, frame->id.term, frame->id.conf_state()}, {}});
  sender_.send_frame(from, encoded_size(*reply), now_ns,
                     [&](std::span<std::byte> out) { return encode(*reply, out); });
}

std::shared_ptr<const SnapshotImage> Node::snapshot_image(const raft::InstallSnapshot& m) {
  // Its descriptor may be the last of a file a newer snapshot replaced: closed off the loop.
  std::shared_ptr<SnapshotFileImage> image(
      new SnapshotFileImage(storage_.snapshot_file()),
      [this](SnapshotFileImage* done) { retirer_.retire(std::unique_ptr<SnapshotFileImage>(done)); });
  if (image->meta() != to_storage(m.meta)) return nullptr;
  return image;
}

void Node::start_install(const ChunkFrame& last) {
  const SnapshotId& id = snapshot_receiver_.id();
  log_.info(
      "received snapshot at index {} term {} ({} bytes) from node {}: image CRC {:08x} verified; bytes "
      "received {}, chunks received {}, refused {}, transfers resumed {}, images refused {}; installing it "
      "off the loop",
      id.index, id.term, id.bytes, last.from, id.crc, snapshot_receiver_.bytes_received(),
      snapshot_receiver_.chunks_received(), snapshot_receiver_.chunks_refused(), snapshot_receiver_.resumes(),
      snapshot_receiver_.images_refused());
  install_from_ = last.from;
  install_term_ = last.term;
  installer_.start(snapshot_receiver_.file(), storage_meta(id));
}

void Node::finish_install() {
  const SnapshotId id = snapshot_receiver_.id();
  try {
    installed_kv_ = installer_.take();
  } catch (const std::exception& e) {
    log_.error(
        "the snapshot at index {} received from node {} could not be installed: {}; it is fetched again",
        id.index, install_from_, e.what());
    snapshot_receiver_.discard();
    return;
  }
  const uint64_t start_ns = monotonic_ns();
  raft_storage_.expect_received(snapshot_receiver_.file(), storage_meta(id));
  core_->step(raft::InstallSnapshot{
      install_from_, options_.node, install_term_, {id.index, id.term, id.conf_state()}, {}});
  handle_readies();  // the core's Ready takes the file (RaftStorage) and the state machine (restore())
  const uint64_t pause_ns = monotonic_ns() - start_ns;
  if (raft_storage_.received_pending()) {
    raft_storage_.forget_received();
    snapshot_receiver_.discard();
    retirer_.retire(std::move(*installed_kv_));
    installed_kv_.reset();
    log_.info("snapshot at index {} term {} dropped: the core is at commit {}, term {}", id.index, id.term,
              core_->commit_index(), core_->term());
    return;
  }
  const double whole_s = static_cast<double>(monotonic_ns() - snapshot_receiver_.started_ns()) / 1e9;
  snapshot_receiver_.installed();
  log_.info(
      "installed snapshot at index {} term {} ({} bytes) from node {} in {:.3f} s: flushed in {} ms, "
      "flushed and restored in {} ms off the loop; the loop paused {} us to install it",
      id.index, id.term, id.bytes, install_from_, whole_s, installer_.flush_ns() / 1'000'000,
      installer_.restore_ns() / 1'000'000, pause_ns / 1000);
}

void Node::on_client_request(uint32_t slot, std::span<const std::byte> payload) {
  ++requests_taken_;
  const std::optional<RequestHeader> header = read_header<RequestHeader>(payload);
  if (!header) {
    ++bad_client_frames_;
    return;
  }
  ++frames_in_;
  catch_up();
  if (header->kind == kAdminRequest)
    requests_.on_admin_request(slot, *header, payload.subspan(sizeof(RequestHeader)));
  else
    requests_.on_request(slot, *header, payload.subspan(sizeof(RequestHeader)));
}

void Node::send(const raft::Message& message) {
  if (const auto* snapshot = std::get_if<raft::InstallSnapshot>(&message))
    snapshot_sender_.offer(*snapshot, ready_ns_);
  else
    sender_.send(message, ready_ns_);
}

void Node::persist(const raft::Ready& ready) {
  // Followers can store the leader's entries while the leader stores its own (§10.2.1); only worth a
  // separate publish when the local persist is slow.
  if (!ready.messages.empty() && options_.fsync != storage::Durability::none) transport_->flush();
  // The core took the received snapshot: the local child, which writes the staging file the received
  // one is renamed through, and whose older image must not follow it, goes. Not before: a snapshot
  // the core drops leaves it be.
  if (ready.snapshot) forked_snapshot_.cancel();
  raft_storage_.write(ready);
  raft_storage_.sync();
  if (!ready.entries.empty()) requests_.stamp_persisted(ready.entries.back().index, monotonic_ns());
}

void Node::restore(const raft::Snapshot& snapshot) {
  // The state machine the installer restored from the file persist() just moved into place.
  if (!installed_kv_ || installed_kv_->applied_index() != snapshot.meta.index)
    throw std::logic_error("the core installs the snapshot at index " + std::to_string(snapshot.meta.index) +
                           ", which the node did not restore");
  retirer_.retire(std::exchange(kv_, std::move(*installed_kv_)), raft_storage_.take_replaced_files());
  installed_kv_.reset();
  snapshot_index_ = snapshot.meta.index;
  applied_bytes_since_snapshot_ = snapshot_head_start_after_install(
      options_.node, core_->leader(), segment_.node_count(), options_.snapshot_bytes);
}

void Node::serve_reads(std::span<const raft::ReadState> reads) {
  requests_.serve_reads(reads, ready_ns_);
}

void Node::on_soft_state(const raft::SoftState& soft) {
  const raft::Role previous = role_;
  role_ = soft.role;
  if (soft.role == raft::Role::kCandidate && previous != raft::Role::kCandidate) {
    ++elections_;
    if (core_->elections_by_peer_down() != peer_down_elections_seen_) {
      peer_down_elections_seen_ = core_->elections_by_peer_down();
      ++(last_down_cause_ == DownCause::kStalled ? stall_elections_ : death_elections_);
      // The dead leader's clients may come here at once (takes_requests() says why).
      if (last_down_cause_ == DownCause::kDied) {
        candidacy_term_ = core_->term();
        candidacy_pending_ = true;
      }
    }
  }
  if (previous == raft::Role::kFollower &&
      (soft.role == raft::Role::kPreCandidate || soft.role == raft::Role::kCandidate))
    ipc::NodeCounters::set(counters_.campaign_ns, monotonic_ns());
  if (previous == raft::Role::kLeader && soft.role != raft::Role::kLeader) {
    if (core_->term() == leader_term_) log_step_down();
    requests_.fail_pending();
    snapshot_sender_.stop_all();
    segment_.leader_record().withdraw(options_.node, leader_term_);
    leader_term_ = 0;
    announce_pending_ = false;
  }
  if (soft.role == raft::Role::kLeader && previous != raft::Role::kLeader) {
    leader_term_ = core_->term();
    announce_pending_ = true;
    progress_.took_work();  // a sleep it announced as a follower says nothing of the leader
    ipc::NodeCounters::set(counters_.leader_since_ns, monotonic_ns());
  }
  roles_to_log_.push_back({soft, core_->term(), requests_taken_, spdlog::log_clock::now()});
}

void Node::log_roles() {
  for (const auto& [soft, term, requests, at] : roles_to_log_) {
    if (soft.role == raft::Role::kPreCandidate)
      log_held(at, spdlog::level::debug, fmt::format("pre-candidate in term {}", term));
    else if (soft.role == raft::Role::kLeader)
      log_held(at, spdlog::level::info,
               fmt::format("leader in term {}; {} client requests read in the iteration that elected it",
                           term, requests));
    else
      log_held(
          at, spdlog::level::info,
          fmt::format("{} in term {}, leader {}", raft::to_string(soft.role), term,
                      soft.leader == raft::kNoNode ? std::string("unknown") : std::to_string(soft.leader)));
  }
  roles_to_log_.clear();
}

void Node::log_held(spdlog::log_clock::time_point at, spdlog::level::level_enum level,
                    std::string_view line) {
  if (log_.should_log(level)) log_.log(at, spdlog::source_loc{}, level, line);
}

void Node::apply(std::span<const raft::Entry> entries) {
  // Publish what this Ready sent before applying: a follower's acknowledgements and a leader's appends
  // and heartbeats would otherwise wait out the apply, which for thousands of entries, or with the page
  // faults that follow a snapshot's fork (~100 us each on a loaded VM), runs 50-250 ms: long enough for
  // a leader's CheckQuorum, or a follower's election timer, to miss them.
  transport_->flush();
  // Far enough ahead that a slot's cache miss (~100 ns) is hidden behind the entries before it, near
  // enough that the prefetched lines are still in L1 when their turn comes.
  constexpr std::size_t kPrefetchDistance = 8;
  auto prefetch = [&](std::size_t i) {
    if (i < entries.size() && entries[i].type == raft::EntryType::kNormal) kv_.prefetch(entries[i].data);
  };
  for (std::size_t i = 0; i < kPrefetchDistance; ++i) prefetch(i);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    prefetch(i + kPrefetchDistance);
    const raft::Entry& e = entries[i];
    if (e.index <= kv_.applied_index()) continue;  // already in the restored snapshot
    kv::ResultCode code = kv::ResultCode::ok;
    if (e.type == raft::EntryType::kNormal) {
      code = kv_.apply(e.index, e.data).code;
    } else {
      kv_.skip(e.index);
    }
    applied_bytes_since_snapshot_ += storage::format::record_bytes(e.data.size());  // as the log holds it
    requests_.on_applied(e, code);
  }
  requests_.answer_applied(ready_ns_);
}

void Node::maybe_snapshot(uint64_t now_ns) {
  if (forked_snapshot_.running()) {
    if (now_ns < next_snapshot_poll_ns_) return;
    next_snapshot_poll_ns_ = now_ns + 1'000'000;
    return advance_forked_snapshot(now_ns);
  }
  // A snapshot found damaged is replaced at once, at the applied index even if nothing was applied since:
  // the followers it was to catch up would otherwise wait for --snapshot-bytes more of log, forever on
  // an idle cluster. It counts as replaced only once the new one is installed: a failed fork or child is
  // tried again kDamagedRetryNs later (not at once: a full disk would fork on every iteration).
  const bool replace_damaged =
      snapshot_sender_.images_damaged() != damaged_snapshots_replaced_ && now_ns >= damaged_retry_ns_;
  if (applied_bytes_since_snapshot_ < options_.snapshot_bytes && !replace_damaged) return;
  const raft::Index index = kv_.applied_index();
  if (index <= snapshot_index_ && !replace_damaged) return;
  applied_bytes_since_snapshot_ = 0;
  replacing_damaged_ = snapshot_sender_.images_damaged();
  try {
    forked_snapshot_.start(kv_, raft_storage_.snapshot_meta(index, core_->conf_state_at(index)));
  } catch (const std::system_error& e) {  // EAGAIN or ENOMEM: the log keeps growing until a fork succeeds
    damaged_retry_ns_ = now_ns + kDamagedRetryNs;
    log_.error("no snapshot at index {}: {}; the next is tried after {} more bytes of log{}", index, e.what(),
               options_.snapshot_bytes, replace_damaged ? " or, to replace the damaged one, in 1 s" : "");
  }
}

void Node::advance_forked_snapshot(uint64_t now_ns) {
  switch (forked_snapshot_.poll()) {
    case ForkedSnapshot::Status::kIdle:
    case ForkedSnapshot::Status::kRunning:
      return;
    case ForkedSnapshot::Status::kFailed:
      damaged_retry_ns_ = now_ns + kDamagedRetryNs;
      log_.error(
          "the snapshot child for index {} failed (exit code {}: 1 = writing {}, 2 = serialising, 4 = "
          "flushing its directory); the next snapshot is tried after {} more bytes of log{}",
          forked_snapshot_.meta().last_index, forked_snapshot_.exit_code(), forked_snapshot_.file().string(),
          options_.snapshot_bytes,
          snapshot_sender_.images_damaged() != damaged_snapshots_replaced_
              ? " or, to replace the damaged one, in 1 s"
              : "");
      return;
    case ForkedSnapshot::Status::kWritten:
      return install_forked_snapshot();
    case ForkedSnapshot::Status::kDone:
      return compact_after_snapshot();
  }
}

void Node::install_forked_snapshot() {
  const storage::SnapshotMeta& meta = forked_snapshot_.meta();  // newer: restore() cancels the child
  const uint64_t start_ns = monotonic_ns();
  storage_.install_snapshot_file(meta);
  snapshot_sender_.snapshot_replaced();
  damaged_snapshots_replaced_ = replacing_damaged_;
  forked_snapshot_.installed();
  snapshot_index_ = meta.last_index;
  install_ns_ = monotonic_ns() - start_ns;
}

void Node::compact_after_snapshot() {
  const storage::SnapshotMeta& meta = forked_snapshot_.meta();
  const uint64_t start_ns = monotonic_ns();
  // The segments it removes free their blocks when the retirer closes them, not here (~1 s per GiB).
  std::vector<storage::UniqueFd> segments = raft_storage_.hold_segments();
  storage_.compact(meta.last_index);  // persist() cancels the child: no leader's snapshot came since
  const uint64_t compact_ns = monotonic_ns() - start_ns;
  retirer_.retire(std::move(segments));
  std::error_code unknown;
  const uint64_t bytes = std::filesystem::file_size(storage_.snapshot_file(), unknown);
  log_.info(
      "snapshot at index {} ({} bytes, written by a child in {} ms; the loop paused {} us to fork, {} us to "
      "install and {} us to compact); log now [{}, {}]",
      meta.last_index, unknown ? 0 : bytes, (start_ns - forked_snapshot_.started_ns()) / 1'000'000,
      forked_snapshot_.fork_ns() / 1000, install_ns_ / 1000, compact_ns / 1000, storage_.first_index(),
      storage_.last_index());
}

void Node::publish_counters(uint64_t now_ns) {
  using C = ipc::NodeCounters;
  C::set(counters_.role, role_code(core_->role()));
  C::set(counters_.term, core_->term());
  C::set(counters_.leader, core_->leader());
  C::set(counters_.commit_index, core_->commit_index());
  C::set(counters_.applied_index, kv_.applied_index());
  C::set(counters_.last_index, core_->log().last_index());
  C::set(counters_.frames_in, frames_in_);
  const uint64_t refused = transport_->send_drops();  // committed, then refused by a TCP peer
  C::set(counters_.frames_out, sender_.frames_out() + requests_.replies() - refused);
  C::set(counters_.drops, sender_.drops() + requests_.dropped_replies() + refused);
  C::set(counters_.elections, elections_);
  C::set(counters_.death_elections, death_elections_);
  C::set(counters_.stall_elections, stall_elections_);
  C::set(counters_.stalls_seen, stalls_seen_);
  C::set(counters_.progress_resets, core_->progress_resets());
  C::set(counters_.lost, core_->lost());
  C::set(counters_.repairs, core_->repairs());
  C::set(counters_.votes_granted, votes_granted_before_ + core_->votes_granted());
  const raft::ConfState& conf = core_->conf_state();
  C::set(counters_.voters, conf.voters.bits());
  C::set(counters_.learners, conf.learners.bits());
  C::set(counters_.syncs, storage_.stats().flushes);
  C::set(counters_.sleeps, transport_->sleeps());
  C::set(counters_.updated_ns, now_ns);
}

}  // namespace shmraft::node
