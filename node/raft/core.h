#pragma once
// shmraft::raft::Core — a deterministic, I/O-free Raft state machine (in the manner of etcd's raft).
//
// ============================================================================================ API ====
// Inputs (each is a pure function of the core's state and arguments; no threads, clocks, I/O, logging):
//   tick(n)                      n units of logical time (election / heartbeat timers count ticks)
//   step(msg)                    a Message from a peer (decoded with codec.h, or handed over in memory)
//   propose(bytes)               leader only: append a command; returns its index and term
//   propose_conf_change(change)  leader only: append a membership change (see Membership below)
//   read_index(context)          leader only: ask for a linearizable read point (ReadState{index,context})
//   transfer_leader(id)          leader only: hand leadership to `id` (catch it up, then TimeoutNow)
//   campaign()                   start an election now (bootstrapping, tests)
//   peer_down(id, delay)         the host learned that peer `id`'s process is gone (issue 13): a follower
//                                of `id` forgets it and holds a PreVote election after `delay` ticks
//                                (0 = at once) instead of waiting for its election timeout
// Output: has_ready() / ready() returns a Ready (ready.h); the application handles it and calls advance().
// Hosts do that through ReadyHandler (ready_handler.h), which follows the contract below.
//
// ----------------------------------------------------------------- The Ready / advance contract ----
// For each Ready, the application does, in this order:
//   1. send rd.messages — any time, even while persisting (the leader's AppendEntries / heartbeats /
//      snapshots / TimeoutNow; dissertation §10.2.1). The leader counts its own copy of new entries
//      toward commitment only after advance() reports them persisted.
//   2. persist: rd.snapshot (if set; replaces the log up to its index), then rd.entries (first remove
//      every stored entry with index >= rd.entries[0].index, then append), then rd.hard_state (if set).
//      Make it durable per the node's fsync mode; afterwards the LogStorage the core reads must show it.
//   3. only after (2) is durable: send rd.messages_after_persist (vote grants, append/snapshot
//      acknowledgements, a candidate's own vote requests — everything that promises persisted state).
//   4. apply rd.snapshot (if set), then rd.committed_entries in order (skip EntryType::kNoop); serve each
//      rd.read_states[i] once applied >= its index.
//   5. advance(): "everything in the last Ready is persisted, sent and applied".
// Between ready() and advance() no other method may be called except const accessors (std::logic_error
// otherwise). Every span in a Ready points into memory the core owns and stays valid until advance().
// A crash at any point is fine: restart a Core over the storage; unpersisted parts are simply lost, and
// nothing that depended on them left the node.
//
// ------------------------------------------------------------------------------- Messages ----
// step() takes a message addressed to this node (others, and messages from ids that are not members
// of the configuration, are dropped and counted in dropped_messages()). Message spans need to live only for
// the duration of step(): the core copies what it keeps. Messages may be lost, duplicated or reordered.
// Encode outgoing messages with encode() into a ring frame; decode incoming frames with
// decode_message() (zero copy; keep the frame until step() returns). See codec.h.
// step() throws SafetyViolation (safety_violation.h) when a leader's AppendEntries contradicts an entry
// this node knows committed: the host must stop with its message; the core is not usable afterwards.
//
// ------------------------------------------------------------------------------- Storage ----
// The core reads persisted entries through LogStorage (log_storage.h); MemoryStorage (memory_storage.h)
// is the in-memory implementation used by tests and the simulator. To compact, the application writes a
// snapshot of its applied state into its storage and drops log entries up to the snapshot index; the
// core sends that snapshot to followers whose next entry is gone.
//
// ------------------------------------------------------------------------------- Protocol ----
// Figure 2 of the Raft paper; PreVote (§9.6) and CheckQuorum with leader lease (config.h); conflict-term
// hints; per-follower probe/replicate/snapshot flow control with pipelined, batched AppendEntries
// (progress.h); leadership transfer (TimeoutNow); ReadIndex (the leader must have committed an entry of
// its term — it appends a no-op on election — and confirms leadership with a heartbeat round); snapshots.
// Follower restarts (Config::incarnation): a response from a newer incarnation of a follower resets the
// leader's progress for it (match 0, probe), so a follower that came back with less log than it had
// acknowledged is caught up and its old match index stops counting towards commit; a late response of an
// older incarnation is ignored.
// Every quorum decision (commit index, votes, CheckQuorum, ReadIndex confirmation) goes through the
// ProgressTracker's JointConfig (joint_config.h).
//
// ----------------------------------------------------------------------------- Membership ----
// One server at a time (dissertation §4.1), not joint consensus: each change adds or removes one voter,
// so any majority of the old configuration overlaps any majority of the new one. A server uses the
// latest configuration in its log from the moment the entry is appended, committed or not (§4.1); a
// truncated entry takes its change back with it, a snapshot carries the configuration it covers, and a
// restart rebuilds it from the snapshot plus the stored log — so the application does nothing for a
// change but skip its entry. Rules: a leader proposes a change only once it has committed an entry of
// its own term (§4.1's fix for the bug found after the dissertation) and no other change is unapplied;
// learners (§4.2.1) receive the log and snapshots, never campaign or count toward any quorum (they answer
// vote requests like anyone, §4.1, but only a candidate that holds them as voters counts them), and
// are promoted only once caught up (§4.2.1); a removed leader (§4.2.2) leads until the removal commits,
// then hands over to the most up-to-date voter and steps down; a node that is not a voter never campaigns
// once it knows its removal committed (§4.2.3's disruptive servers are also refused by PreVote and the
// leader lease).
//
// ----------------------------------------------------------------------------- Lost state ----
// A node whose durable state is gone (Config::state_lost: a wiped directory) may have voted in terms it no
// longer knows and acknowledged entries it no longer holds (Alagappan et al., FAST'18). Waiting to catch
// up before voting again is not enough — the only witnesses of its old vote may be down — so it is
// taken out of the voters and put back through committed one-at-a-time changes (§4.1): removing it
// needs a majority of the remaining voters, which overlaps every majority that elected a leader with its
// old vote. While lost (HardState::lost, persisted, so a restart stays lost) it grants no vote or
// pre-vote, never campaigns, ignores TimeoutNow and says so in every response. A leader that hears a
// voter say so removes it with a repair mark (ConfChange::repair_incarnation, ConfState::repairing),
// adds it back as a learner once the removal is applied, and promotes it once it has left lost mode and
// holds the committed log (§4.2.1) — any leader continues a repair the configuration marks; one repair
// at a time; each promotion counts in repairs(). A lost learner may have voted too (a candidate whose
// log promotes it counts its ballot, §4.1), so it is repaired the same way without leaving: the leader
// re-adds it as a learner with a repair mark that says it returns as one (kRepairAsLearner), and once it
// left lost mode re-adds it unmarked, which ends the repair (counted in repairs() too). The node leaves
// lost mode once its commit index reaches a configuration that marks it repairing for this very loss
// (the repair incarnation equals its lost mark): a committed configuration in which it is not a voter,
// made after the loss — appended alone is not enough, a stale leader's uncommitted removal proves
// nothing. A lost node is no target for a leadership transfer (it would ignore TimeoutNow): the leader
// refuses one (kNodeLost), drops one in progress when the target says it is lost, and a leader that
// removed itself hands over to a voter that is not lost; nor is a lost learner promoted (kNodeLost).
// =====================================================================================================
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "node/raft/arena.h"
#include "node/raft/conf_change.h"
#include "node/raft/conf_history.h"
#include "node/raft/config.h"
#include "node/raft/log_storage.h"
#include "node/raft/message.h"
#include "node/raft/progress.h"
#include "node/raft/progress_tracker.h"
#include "node/raft/raft_log.h"
#include "node/raft/ready.h"
#include "node/raft/types.h"

namespace shmraft::raft {

enum class Status : std::uint8_t {
  kOk = 0,
  kNotLeader,           // propose/read_index/transfer_leader on a non-leader; see leader() for a hint
  kTransferInProgress,  // the leader is handing over and refuses new proposals
  kInvalidArgument,     // e.g. transfer to an unknown id, a change naming id 0 or one above max_nodes
  // Membership changes (propose_conf_change):
  kConfChangePending,  // another change is not yet applied, or this leader has not committed its term
  kAlreadyMember,      // adding an id that is a voter or learner already
  kNotLearner,         // promoting an id that is not a learner
  kNotMember,          // removing an id that is neither voter nor learner
  kRemovesLastVoter,   // the configuration would be left without a voter
  kLearnerBehind,      // promoting a learner whose log has not reached the commit index yet
  kNodeLost,           // transferring to (or promoting) a node that lost its state and is not repaired yet
};
const char* to_string(Status status) noexcept;

struct ProposeResult {
  Status status = Status::kOk;
  Index index = 0;  // on kOk: where the entry sits; it is committed once the commit index reaches it
  Term term = 0;    // ... in this term (if another entry ends up at `index`, this one was lost)
};

class Core {
 public:
  // `storage` must outlive the core. Restores term, vote and commit from storage.hard_state().
  // Throws std::invalid_argument on a bad config.
  Core(const Config& config, const LogStorage& storage);
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // `count` ticks passed, all of them before the messages stepped since the previous tick() (which is
  // how a host replays the ticks it missed after reading its rings): a leader's CheckQuorum counts the
  // answers among those messages as heard at the end of these ticks, not at their start, and a leader
  // sends one heartbeat round for them, not one per heartbeat interval. A leader that steps down in
  // them drops the rest: its election timer starts then.
  void tick(int count = 1);
  // Ticks until tick() next does more than count (a timer fires: election, heartbeat, CheckQuorum, a
  // snapshot's timeout); at least 1. A host may sleep that long and hand over the elapsed ticks when
  // it wakes, before it steps whatever woke it, instead of waking for every tick.
  int ticks_until_due() const noexcept;
  void step(const Message& message);
  ProposeResult propose(Bytes data);
  ProposeResult propose_conf_change(const ConfChange& change);
  Status read_index(std::uint64_t context);
  Status transfer_leader(NodeId target);
  void campaign();
  // Liveness only (terms and votes keep it safe): a wrong signal costs at most an election.
  // If this follower follows `peer`, it forgets its leader — so its leader lease no longer refuses
  // vote requests of peers that saw the same death — and campaigns: with delay_ticks 0 at once and
  // without a pre-vote, otherwise with a PreVote election after `delay_ticks`. A host staggers the
  // delay by log position so the most up-to-date node goes first and the others vote for it before
  // their own turn. Returns whether it did; on anyone else's death, or on a candidate or leader, it
  // does nothing.
  bool peer_down(NodeId peer, int delay_ticks = 0);

  bool has_ready() const;
  const Ready& ready();
  // The Ready handed out by ready(), until advance(). Throws std::logic_error if none is pending.
  const Ready& pending_ready() const;
  void advance();

  // ---- read accessors (for invariant checkers, status counters and tests) ----
  NodeId id() const noexcept { return config_.id; }
  const Config& config() const noexcept { return config_; }
  Term term() const noexcept { return term_; }
  NodeId vote() const noexcept { return vote_; }
  Role role() const noexcept { return role_; }
  NodeId leader() const noexcept { return leader_; }
  Index commit_index() const noexcept { return log_.committed(); }
  Index applied_index() const noexcept { return log_.applied(); }
  HardState hard_state() const noexcept { return {term_, vote_, log_.committed(), lost_}; }
  SoftState soft_state() const noexcept { return {role_, leader_}; }
  const RaftLog& log() const noexcept { return log_; }
  // Leader's view of member `node`; meaningful only while role() == kLeader. Throws std::out_of_range
  // for a non-member.
  const Progress& progress(NodeId node) const;
  const JointConfig& voters() const noexcept { return tracker_.voters(); }
  // The configuration in force: the latest in the log (§4.1), committed or not.
  const ConfState& conf_state() const noexcept { return conf_.current(); }
  // The configuration in force once entry `index` (>= applied_index()) is in the log: what a snapshot
  // taken at `index` records.
  const ConfState& conf_state_at(Index index) const noexcept { return conf_.at(index); }
  NodeId transfer_target() const noexcept { return transfer_target_; }
  // The current randomized election timeout, in ticks.
  int randomized_election_timeout() const noexcept { return randomized_election_timeout_; }
  std::uint64_t dropped_messages() const noexcept { return dropped_messages_; }
  // Elections (candidacies, after a won pre-vote) started by peer_down rather than by a timeout.
  std::uint64_t elections_by_peer_down() const noexcept { return elections_by_peer_down_; }
  // The leader lease ignored a vote request that peer_down will answer: its candidate may have heard of
  // the leader's death before this node did, which a host should then listen for.
  bool holds_vote_requests() const noexcept { return !votes_in_lease_.empty(); }
  // Non-zero while this node is lost (HardState::lost): it neither votes nor campaigns.
  std::uint64_t lost() const noexcept { return lost_; }
  // Repairs this node completed as leader: lost voters it promoted back after their removal.
  std::uint64_t repairs() const noexcept { return repairs_; }
  // Times this node, as leader, heard a follower answer from a new incarnation (it restarted) and so
  // dropped the match index the previous one had vouched for and probed it afresh.
  std::uint64_t progress_resets() const noexcept { return progress_resets_; }
  // Real (not pre-) votes this node granted, a repeated one again: a lost node's stays put (issue 14).
  std::uint64_t votes_granted() const noexcept { return votes_granted_; }

 private:
  void check_not_in_ready(const char* what) const;
  ProposeResult propose_entry(EntryType type, Bytes data);
  ProposeResult propose_change(const ConfChange& change);
  Status check_conf_change_proposal(const ConfChange& change) const;

  // Lost state.
  // A leader takes the next step of a repair, if one is due and a change may be proposed now.
  void drive_repair();
  // The repair step due in the latest configuration, if any.
  std::optional<ConfChange> next_repair_step() const;
  // A response from `from` said whether it is lost: remember it, and give up a transfer to it if so.
  void note_lost(Progress& pr, NodeId from, std::uint64_t lost);
  // A lost node whose commit index reached a configuration marking it repaired for this loss leaves lost
  // mode.
  void leave_lost_if_repaired();

  // Membership.
  bool is_voter() const noexcept { return conf_.current().voters.contains(config_.id); }
  // A voter campaigns; so does a node whose removal it does not know committed (§4.2.2): with the removal
  // in its log it may hold the only log the remaining voters can elect (a removed leader that lost its
  // quorum before the removal committed). It counts the votes of its latest configuration, so its own
  // vote no longer counts; once elected it commits the removal and hands over.
  bool may_campaign() const noexcept {
    if (lost_ != 0) return false;
    return is_voter() || conf_.at(log_.committed()).voters.contains(config_.id);
  }
  // The configuration a snapshot records, or the bootstrap one if it records none.
  ConfState conf_of(const SnapshotMeta& meta) const;
  // The kConfChange entries among `entries` (now in the log) take effect; throws std::runtime_error on
  // an undecodable or inapplicable one (the leader validated it against the same log prefix).
  // Returns whether there was any.
  bool record_conf_changes(std::span<const Entry> entries);
  // The tracker follows the configuration in force (plus, on a leader, a node being removed).
  void enter_config();
  // A leader outside its own configuration (it removed itself) hands over once the removal committed.
  void hand_over_if_removed();
  void start_transfer(NodeId target);

  // Role transitions.
  void reset(Term term);
  void reset_randomized_election_timeout();
  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void start_election(bool pre_vote, bool leader_transfer);

  // Message handlers.
  void step_leader(const Message& m);
  void step_candidate(const Message& m);
  void step_follower(const Message& m);
  void handle_vote_request(const VoteRequest& m);
  // Whether handle_vote_request would grant `m` now (§5.2, §5.4.1, §9.6, the stagger's tie-break).
  bool grants(const VoteRequest& m) const;
  // After a death signal: a candidate of `candidate_term` has a log ours beats; campaign past it now.
  void outbid(Term candidate_term);
  // Whether our log beats a peer's with this last entry, or equals it and our id is lower.
  bool outranks(Index last_index, Term last_term, NodeId other) const;
  bool outranks_after_peer_down(const VoteRequest& m) const;
  void remember_vote_request(const VoteRequest& request);
  void handle_vote_response(const VoteResponse& m);
  void handle_append_entries(const AppendEntries& m);
  void handle_append_response(const AppendResponse& m);
  void handle_heartbeat(const Heartbeat& m);
  void handle_heartbeat_response(const HeartbeatResponse& m);
  void handle_install_snapshot(const InstallSnapshot& m);
  void handle_install_snapshot_response(const InstallSnapshotResponse& m);
  void handle_timeout_now(const TimeoutNow& m);

  // Which incarnation of a follower sent a response, from the leader's view (see Progress::incarnation).
  enum class Sender : std::uint8_t {
    kKnown,      // the one that vouched for the current match (or the first heard of, or untracked)
    kRestarted,  // a newer one: its progress was just reset to match 0, probing from the log's end
    kRetired,    // an older one: a late message from a process that is gone
  };
  Sender track_incarnation(Progress& pr, std::uint64_t incarnation);
  // Throws SafetyViolation if `m` contradicts an entry at or below our commit index.
  void check_committed_agreement(const AppendEntries& m) const;

  // Leader replication. send_append returns true if it sent entries (so a caller may fill the window).
  void become_probe(Progress& pr);
  void become_replicate(Progress& pr);
  bool is_paused(const Progress& pr) const;
  bool send_append(NodeId to, bool allow_empty);
  // A voter told where its log ends (VoteResponse): replicate to it from there if ours holds that entry.
  void start_at_voters_log_end(Progress& pr, Index last_index, Term last_term);
  bool send_snapshot(NodeId to);
  void broadcast_heartbeat(std::uint64_t context);
  void flush_pending();
  bool maybe_commit();
  // After maybe_commit() moved the commit index: tell the followers now or later (Config::broadcast_commit).
  void commit_advanced();
  void commit_to(Index index);
  bool committed_in_current_term() const;

  // ReadIndex.
  void add_read(std::uint64_t context);
  void release_reads();

  // Timers.
  void tick_election();
  // A leader's `count` ticks: CheckQuorum, then its timers, each firing at most once.
  void tick_heartbeat(int count);
  // CheckQuorum: a quorum of voters (this one included) was heard within the last election timeout.
  bool quorum_heard_recently() const;
  bool in_lease() const;

  void send(Message message);
  std::uint64_t next_random();

  Config config_;
  RaftLog log_;
  Arena arena_;  // bytes referenced by the unstable log and the pending Ready; reset at advance()

  Term term_ = 0;
  NodeId vote_ = kNoNode;
  std::uint64_t lost_ = 0;            // HardState::lost
  Term heartbeat_answered_term_ = 0;  // the term of our last heartbeat answer (HeartbeatResponse::urgent)
  std::uint64_t repairs_ = 0;
  Role role_ = Role::kFollower;
  NodeId leader_ = kNoNode;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  std::uint64_t rng_state_;

  ConfHistory conf_;
  ProgressTracker tracker_;
  Index departing_until_ = 0;  // the tracker keeps a node being removed until this entry committed a while
  NodeId transfer_target_ = kNoNode;
  bool campaign_transfer_ = false;   // this candidacy was started by TimeoutNow
  bool campaign_peer_down_ = false;  // this (pending) election was started by peer_down
  std::uint64_t elections_by_peer_down_ = 0;
  std::uint64_t progress_resets_ = 0;
  std::uint64_t votes_granted_ = 0;
  // Vote requests (pre-votes and real ones) the leader lease ignored since we last heard the leader, the
  // latest per candidate (bounded by the voters): peer_down answers them, so a death signal that
  // reaches us after a peer's request costs nothing. Dropped on any term change.
  std::vector<VoteRequest> votes_in_lease_;
  bool append_pending_ = false;            // new entries to flush to followers at ready()
  bool commit_broadcast_pending_ = false;  // the commit index advanced; tell followers at ready()

  // ReadIndex: requests waiting for the leader's first commit in its term, and requests awaiting a
  // quorum of heartbeat acknowledgements for their round (heartbeat contexts carry round numbers).
  struct PendingRead {
    std::uint64_t context;
    Index index;
    std::uint64_t round;
  };
  std::vector<std::uint64_t> reads_before_commit_;
  std::vector<PendingRead> pending_reads_;
  std::uint64_t read_round_ = 0;
  bool read_heartbeat_pending_ = false;  // a new round's heartbeats go out at ready()

  // Output accumulated for the next Ready.
  std::vector<Message> messages_;
  std::vector<Message> messages_after_persist_;
  std::vector<ReadState> read_states_;
  std::vector<Entry> committed_scratch_;
  std::vector<Entry> slice_scratch_;
  SoftState last_soft_state_;
  HardState last_hard_state_;
  Ready ready_;
  bool in_ready_ = false;
  Index ready_applied_to_ = 0;  // last committed entry handed out in the pending Ready
  std::uint64_t dropped_messages_ = 0;
};

}  // namespace shmraft::raft
