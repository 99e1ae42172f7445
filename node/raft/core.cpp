#include "node/raft/core.h"

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>
#include <string>

#include "node/raft/safety_violation.h"

namespace shmraft::raft {
namespace {

std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

bool is_leader_traffic(const Message& m) noexcept {
  return std::holds_alternative<AppendEntries>(m) || std::holds_alternative<Heartbeat>(m) ||
         std::holds_alternative<InstallSnapshot>(m);
}

}  // namespace

const char* to_string(Status status) noexcept {
  switch (status) {
    case Status::kOk:
      return "ok";
    case Status::kNotLeader:
      return "not leader";
    case Status::kTransferInProgress:
      return "leadership transfer in progress";
    case Status::kInvalidArgument:
      return "invalid argument";
    case Status::kConfChangePending:
      return "another configuration change is in progress";
    case Status::kAlreadyMember:
      return "node is a member already";
    case Status::kNotLearner:
      return "node is not a learner";
    case Status::kNotMember:
      return "node is not a member";
    case Status::kRemovesLastVoter:
      return "cannot remove the last voter";
    case Status::kLearnerBehind:
      return "learner has not caught up yet";
    case Status::kNodeLost:
      return "node lost its state and is not repaired yet";
  }
  return "?";
}

Core::Core(const Config& config, const LogStorage& storage)
    : config_((validate(config), config)),
      log_(storage),
      rng_state_(config.seed ^ (0xD1B54A32D192ED03ull * config.id)),
      tracker_(ConfState{}, config.max_inflight_msgs) {
  const HardState hs = storage.hard_state();
  if (hs.commit > storage.last_index()) {
    throw std::invalid_argument("raft::Core: stored commit index " + std::to_string(hs.commit) +
                                " is beyond the stored log (last index " +
                                std::to_string(storage.last_index()) + ")");
  }
  if (config.applied > storage.last_index()) {
    throw std::invalid_argument("raft::Core: Config::applied " + std::to_string(config.applied) +
                                " is beyond the stored log (last index " +
                                std::to_string(storage.last_index()) + ")");
  }
  term_ = hs.term;
  vote_ = hs.vote;
  // Lost since an earlier start (not yet repaired), or since this one.
  if (!config.testing_faults.ignore_lost_state)
    lost_ = hs.lost != 0 ? hs.lost : (config.state_lost ? config.incarnation : 0);
  // Whatever the application applied was committed, even if the stored commit index lags behind it.
  const Index applied = std::max(config.applied, log_.applied());
  log_.set_committed(std::max(hs.commit, applied));
  log_.set_applied(applied);

  // The configuration: the snapshot's (or the bootstrap one), then every change the stored log holds
  // after it (§4.1: in force once in the log, applied or not).
  const SnapshotMeta snapshot = storage.snapshot().meta;
  conf_.reset(snapshot.index, conf_of(snapshot));
  for (Index from = std::max(snapshot.index + 1, log_.first_index()); from <= log_.last_index();) {
    committed_scratch_.clear();
    log_.slice(from, log_.last_index() + 1, config_.max_committed_bytes, committed_scratch_);
    record_conf_changes(committed_scratch_);
    from = committed_scratch_.back().index + 1;
  }
  committed_scratch_.clear();
  conf_.forget_through(applied);
  enter_config();
  leave_lost_if_repaired();

  votes_in_lease_.reserve(config_.max_nodes);
  become_follower(term_, kNoNode);
  last_soft_state_ = soft_state();
  last_hard_state_ = hard_state();
  last_hard_state_.lost = hs.lost;  // a new lost mark goes out in the first Ready, to be persisted
}

// ---------------------------------------------------------------------------------- inputs ----

void Core::tick(int count) {
  check_not_in_ready("tick");
  for (; count > 0 && role_ != Role::kLeader; --count) tick_election();
  if (count > 0) tick_heartbeat(count);  // (a single voter elected by one of those ticks leads for the rest)
}

int Core::ticks_until_due() const noexcept {
  int due = 0;
  if (role_ == Role::kLeader) {
    due = std::min(config_.heartbeat_tick - heartbeat_elapsed_, config_.election_tick - election_elapsed_);
    if (config_.check_quorum) {
      // CheckQuorum: the first tick at which the quorum's latest answer is more than an election timeout
      // old (never with no voters to hear, when the tick heard is the largest value).
      const std::uint64_t heard = tracker_.quorum_heard_tick(config_.id);
      if (heard != std::numeric_limits<std::uint64_t>::max()) {
        const std::uint64_t lapse = heard + static_cast<std::uint64_t>(config_.election_tick) + 1;
        const std::uint64_t now = tracker_.ticks();
        due = lapse > now
                  ? static_cast<int>(std::min<std::uint64_t>(static_cast<std::uint64_t>(due), lapse - now))
                  : 1;
      }
    }
    for (const ProgressTracker::Member& m : tracker_.members()) {
      if (m.id != config_.id && m.progress.state == ProgressState::kSnapshot)
        due = std::min(due, config_.election_tick - m.progress.snapshot_elapsed);
    }
  } else {
    due = randomized_election_timeout_ - election_elapsed_;
  }
  return std::max(due, 1);
}

void Core::campaign() {
  check_not_in_ready("campaign");
  if (role_ == Role::kLeader || !may_campaign()) return;
  campaign_peer_down_ = false;
  start_election(config_.pre_vote, false);
}

bool Core::peer_down(NodeId peer, int delay_ticks) {
  check_not_in_ready("peer_down");
  if (role_ != Role::kFollower || !may_campaign() || peer == kNoNode || leader_ != peer) return false;
  leader_ = kNoNode;
  campaign_peer_down_ = true;
  // Vote requests that reached us before the death signal did, ignored by the lease: grant them now if
  // we would (a real one first: its candidate already holds a term). No refusal: it would reach its
  // candidate late, in whatever round that one holds by then (the same death may have started a new
  // one), and count against that round, as a refusal names our term, not the round it answers.
  std::vector<VoteRequest> waiting;
  waiting.swap(votes_in_lease_);  // a term change below clears the member
  Term beaten = 0;                // the latest term of a candidate whose log ours beats
  for (const bool real : {true, false}) {
    for (const VoteRequest& request : waiting) {
      if (request.pre_vote == real || request.term <= term_ || !campaign_peer_down_) continue;
      if (!request.pre_vote && lost_ == 0) {
        if (!log_.is_up_to_date(request.last_log_index, request.last_log_term)) {
          beaten = std::max(beaten, request.term);
          continue;
        }
        become_follower(request.term, kNoNode);  // the vote's term, then the vote (which ends our turn)
      }
      if (grants(request)) handle_vote_request(request);
    }
  }
  waiting.clear();
  votes_in_lease_.swap(waiting);          // keeps the capacity reserved at construction
  if (!campaign_peer_down_) return true;  // we granted one: that candidate goes first
  if (beaten > term_) {
    outbid(beaten);
  } else if (delay_ticks <= 0) {
    // First in the stagger: the real vote at once. The pre-vote exists for a node cut off by a partition,
    // which the kernel's word about a process is not; a voter that has not heard of the death yet
    // remembers the request (step) and grants it when it does.
    start_election(false, false);
  } else {
    // tick_election() fires once election_elapsed_ reaches the timeout: after `delay_ticks` more, with the
    // pre-vote, as the node ranked first may simply be slow.
    election_elapsed_ = std::max(0, randomized_election_timeout_ - delay_ticks);
  }
  return true;
}

ProposeResult Core::propose(Bytes data) {
  check_not_in_ready("propose");
  return propose_entry(EntryType::kNormal, data);
}

ProposeResult Core::propose_conf_change(const ConfChange& change) {
  check_not_in_ready("propose_conf_change");
  // Repair steps are the leader's own (drive_repair): an operator's change carries no repair mark, and
  // re-adds no learner (which only a repair does).
  if (change.repair_incarnation != 0) return {Status::kInvalidArgument, 0, 0};
  const Status status = check_conf_change_proposal(change);
  if (status != Status::kOk) return {status, 0, 0};
  if (change.type == ConfChangeType::kAddLearner && conf_.current().is_member(change.node))
    return {Status::kAlreadyMember, 0, 0};
  return propose_change(change);
}

ProposeResult Core::propose_change(const ConfChange& change) {
  const Status status = check_conf_change_proposal(change);
  if (status != Status::kOk) return {status, 0, 0};
  const std::array<std::byte, kConfChangeBytes> payload = encode_conf_change(change);
  const ProposeResult result = propose_entry(EntryType::kConfChange, payload);
  const Entry entry{result.term, result.index, EntryType::kConfChange, payload};
  record_conf_changes({&entry, 1});
  enter_config();
  if (maybe_commit()) commit_advanced();  // a smaller quorum may commit what it already holds
  return result;
}

Status Core::check_conf_change_proposal(const ConfChange& change) const {
  if (role_ != Role::kLeader) return Status::kNotLeader;
  if (transfer_target_ != kNoNode) return Status::kTransferInProgress;
  // §4.1: one change at a time, and — the fix to the dissertation's single-server algorithm — not before
  // this leader committed an entry of its term: a change an earlier leader left uncommitted could
  // otherwise combine with ours into two configurations without overlapping majorities.
  if (!committed_in_current_term() || conf_.current_index() > log_.applied())
    return Status::kConfChangePending;
  switch (check_conf_change(conf_.current(), change, config_.max_nodes)) {
    case ConfChangeRefusal::kNone:
      break;
    case ConfChangeRefusal::kBadNodeId:
      return Status::kInvalidArgument;
    case ConfChangeRefusal::kAlreadyMember:
      return Status::kAlreadyMember;
    case ConfChangeRefusal::kNotLearner:
      return Status::kNotLearner;
    case ConfChangeRefusal::kNotMember:
      return Status::kNotMember;
    case ConfChangeRefusal::kRemovesLastVoter:
      return Status::kRemovesLastVoter;
  }
  // §4.2.1: a learner becomes a voter only once it holds the committed log, so that adding it does not
  // leave the cluster waiting for it to catch up before anything new commits.
  if (change.type == ConfChangeType::kPromoteLearner) {
    const Progress& pr = *tracker_.progress(change.node);
    if (pr.lost != 0) return Status::kNodeLost;  // it would be a voter that votes on nothing
    if (pr.match < log_.committed()) return Status::kLearnerBehind;
  }
  return Status::kOk;
}

ProposeResult Core::propose_entry(EntryType type, Bytes data) {
  if (role_ != Role::kLeader) return {Status::kNotLeader, 0, 0};
  if (transfer_target_ != kNoNode) return {Status::kTransferInProgress, 0, 0};
  const Index index = log_.append_local(term_, type, data, arena_);
  append_pending_ = true;
  return {Status::kOk, index, term_};
}

Status Core::read_index(std::uint64_t context) {
  check_not_in_ready("read_index");
  if (role_ != Role::kLeader) return Status::kNotLeader;
  if (!committed_in_current_term()) {
    // The commit index may lag the true one until the leader commits an entry of its own term.
    reads_before_commit_.push_back(context);
    return Status::kOk;
  }
  add_read(context);
  return Status::kOk;
}

Status Core::transfer_leader(NodeId target) {
  check_not_in_ready("transfer_leader");
  if (role_ != Role::kLeader) return Status::kNotLeader;
  if (!tracker_.voters().contains(target)) return Status::kInvalidArgument;
  if (target == config_.id) return Status::kOk;
  // A lost node ignores TimeoutNow (it may not campaign): the leader would refuse proposals for an
  // election timeout for nothing.
  if (tracker_.progress(target)->lost != 0) return Status::kNodeLost;
  start_transfer(target);
  return Status::kOk;
}

void Core::start_transfer(NodeId target) {
  transfer_target_ = target;
  election_elapsed_ = 0;  // the transfer is abandoned after one election timeout
  const Progress& pr = *tracker_.progress(target);
  if (pr.match == log_.last_index()) {
    send(TimeoutNow{config_.id, target, term_});
  } else {
    send_append(target, false);
  }
}

void Core::step(const Message& m) {
  check_not_in_ready("step");
  const NodeId from = message_from(m);
  // Messages from any possible id are heard, members or not: a node joining learns of its membership
  // from the leader's log, and votes come from whoever campaigns (handle_vote_request decides).
  if (from == config_.id || message_to(m) != config_.id || from == kNoNode || from > config_.max_nodes) {
    ++dropped_messages_;
    return;
  }
  const Term term = message_term(m);
  const auto* vote_request = std::get_if<VoteRequest>(&m);
  const auto* vote_response = std::get_if<VoteResponse>(&m);

  if (term > term_) {
    if (vote_request != nullptr) {
      // Leader lease (CheckQuorum): while we hear from a live leader, ignore candidates — a node
      // rejoining from a partition must not depose it. A transfer's TimeoutNow overrides the lease.
      if (!vote_request->leader_transfer && in_lease()) {
        // ... unless the leader is dead and we are about to hear so: the kernel tells each survivor
        // separately, and a peer's (pre-)vote request may come first. peer_down answers it then.
        remember_vote_request(*vote_request);
        return;
      }
    }
    const bool pre_vote_request = vote_request != nullptr && vote_request->pre_vote;
    // A pre-vote grant carries the term the candidate will campaign in; only a refusal means "newer".
    const bool pre_vote_grant = vote_response != nullptr && vote_response->pre_vote && vote_response->granted;
    if (!pre_vote_request && !pre_vote_grant) {
      // A death-signalled node that a candidate's log cannot win: past it at once (see outbid).
      if (vote_request != nullptr && campaign_peer_down_ && lost_ == 0 &&
          !log_.is_up_to_date(vote_request->last_log_index, vote_request->last_log_term))
        return outbid(term);
      become_follower(term, is_leader_traffic(m) ? from : kNoNode);
    }
  } else if (term < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (std::holds_alternative<AppendEntries>(m) || std::holds_alternative<Heartbeat>(m))) {
      // A stale leader: tell it our term. With CheckQuorum/PreVote this is how a leader that lost its
      // partition learns it was replaced, since our votes no longer raise its term.
      send(AppendResponse{
          .from = config_.id, .to = from, .term = term_, .incarnation = config_.incarnation, .lost = lost_});
    } else if (vote_request != nullptr && vote_request->pre_vote) {
      send(VoteResponse{config_.id, from, term_, true, false});
    }
    return;
  }

  if (vote_request != nullptr) {
    handle_vote_request(*vote_request);
    return;
  }
  switch (role_) {
    case Role::kLeader:
      step_leader(m);
      break;
    case Role::kPreCandidate:
    case Role::kCandidate:
      step_candidate(m);
      break;
    case Role::kFollower:
      step_follower(m);
      break;
  }
}

// --------------------------------------------------------------------------- Ready / advance ----

bool Core::has_ready() const {
  if (in_ready_) return false;
  if (soft_state() != last_soft_state_ || hard_state() != last_hard_state_) return true;
  if (!log_.unstable_entries().empty() || log_.unstable_snapshot()) return true;
  if (!messages_.empty() || !messages_after_persist_.empty() || !read_states_.empty()) return true;
  if (append_pending_ || commit_broadcast_pending_ || read_heartbeat_pending_) return true;
  return std::min(log_.committed(), log_.persisted()) > log_.applied();
}

const Ready& Core::ready() {
  check_not_in_ready("ready");
  flush_pending();

  ready_ = Ready{};
  const SoftState soft = soft_state();
  if (soft != last_soft_state_) ready_.soft_state = soft;
  const HardState hard = hard_state();
  if (hard != last_hard_state_) ready_.hard_state = hard;
  ready_.snapshot = log_.unstable_snapshot();
  ready_.entries = log_.unstable_entries();
  ready_.messages = messages_;
  ready_.messages_after_persist = messages_after_persist_;
  ready_.read_states = read_states_;

  committed_scratch_.clear();
  ready_applied_to_ = log_.applied();
  const Index apply_to = std::min(log_.committed(), log_.persisted());
  if (!ready_.snapshot && apply_to > log_.applied()) {
    log_.slice(log_.applied() + 1, apply_to + 1, config_.max_committed_bytes, committed_scratch_);
    // Persisted entries come from storage, which the application modifies before it applies: copy.
    for (Entry& e : committed_scratch_) e.data = arena_.copy(e.data);
    ready_applied_to_ = committed_scratch_.back().index;
  }
  ready_.committed_entries = committed_scratch_;
  in_ready_ = true;
  return ready_;
}

const Ready& Core::pending_ready() const {
  if (!in_ready_) throw std::logic_error("raft::Core::pending_ready() without a pending ready()");
  return ready_;
}

void Core::advance() {
  if (!in_ready_) throw std::logic_error("raft::Core::advance() without a pending ready()");
  in_ready_ = false;
  if (ready_.snapshot) log_.set_applied(ready_.snapshot->meta.index);
  log_.set_applied(std::max(log_.applied(), ready_applied_to_));
  log_.mark_all_persisted();
  conf_.forget_through(log_.applied());
  last_soft_state_ = soft_state();
  last_hard_state_ = hard_state();
  messages_.clear();
  messages_after_persist_.clear();
  read_states_.clear();
  committed_scratch_.clear();
  ready_ = Ready{};
  arena_.reset();
  if (role_ == Role::kLeader) {
    // Only now does the leader's own copy count toward a majority (dissertation §10.2.1) — unless it
    // removed itself (§4.2.2): then it replicates without counting.
    if (Progress* self = tracker_.progress(config_.id)) {
      self->match = log_.persisted();
      self->next = self->match + 1;
    }
    if (maybe_commit()) commit_advanced();
    drive_repair();  // a change applied just now may let the next repair step go
  }
}

const Progress& Core::progress(NodeId node) const {
  const Progress* pr = tracker_.progress(node);
  if (pr == nullptr) throw std::out_of_range("raft::Core::progress: no member " + std::to_string(node));
  return *pr;
}

void Core::check_not_in_ready(const char* what) const {
  if (in_ready_) {
    throw std::logic_error(std::string("raft::Core::") + what +
                           "() called between ready() and advance(); finish the Ready first");
  }
}

// ---------------------------------------------------------------------------- transitions ----

void Core::reset(Term term) {
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
  }
  leader_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_randomized_election_timeout();
  transfer_target_ = kNoNode;
  campaign_transfer_ = false;
  votes_in_lease_.clear();
  tracker_.reset_votes();
  for (ProgressTracker::Member& m : tracker_.members()) {
    Progress& pr = m.progress;
    pr.match = 0;  // (pr.incarnation stays: it is what we know of the follower, whatever the term)
    // What it said of its lost state may be stale: another leader may have repaired it since, and a
    // repair started on that would demote a healthy voter (simulator, profile lost, seed 15192). Every
    // response of this term says it again. (pr.said_not_lost stays: it is the incarnation's.)
    pr.lost = 0;
    pr.next = log_.last_index() + 1;
    pr.state = ProgressState::kProbe;
    pr.probe_sent = false;
    pr.pending_snapshot = 0;
    pr.snapshot_elapsed = 0;
    pr.read_round_acked = 0;
    pr.inflights.reset();
  }
  append_pending_ = false;
  commit_broadcast_pending_ = false;
  read_heartbeat_pending_ = false;
  reads_before_commit_.clear();
  pending_reads_.clear();
}

void Core::reset_randomized_election_timeout() {
  const auto span = static_cast<std::uint64_t>(config_.election_tick);
  randomized_election_timeout_ = config_.election_tick + static_cast<int>(next_random() % span);
}

std::uint64_t Core::next_random() {
  return splitmix64(rng_state_);
}

void Core::become_follower(Term term, NodeId leader) {
  reset(term);
  // Our vote requests not sent yet solicit for a candidacy given up: a voter that granted one would keep
  // out of the way (handle_vote_request) of a node no longer campaigning.
  std::erase_if(messages_after_persist_,
                [](const Message& m) { return std::holds_alternative<VoteRequest>(m); });
  campaign_peer_down_ = false;  // a new term or a leader settled what a death signal started
  role_ = Role::kFollower;
  leader_ = leader;
}

void Core::become_pre_candidate() {
  // No term change and no vote: a pre-election is only a poll (dissertation §9.6).
  role_ = Role::kPreCandidate;
  leader_ = kNoNode;
  tracker_.reset_votes();
}

void Core::become_candidate() {
  reset(term_ + 1);
  vote_ = config_.id;
  role_ = Role::kCandidate;
}

void Core::become_leader() {
  reset(term_);
  role_ = Role::kLeader;
  leader_ = config_.id;
  enter_config();  // a removal in the log not yet committed: keep its node in reach
  if (Progress* self = tracker_.progress(config_.id)) {  // (not if elected while removing itself)
    self->match = log_.persisted();
    self->next = log_.last_index() + 1;
    self->state = ProgressState::kReplicate;
  }
  tracker_.hear_all_now();  // CheckQuorum: each voter gets an election timeout to answer the new leader
  // Replicate to every follower at once rather than probe first: after a fail-over their logs nearly
  // always end where ours does, and a probe would hold the clients' first entries back a round trip
  // behind the no-op. A follower whose log differs rejects, and that rejection sends it to probe as in
  // any replicate state (handle_append_response). Liveness only: every append is checked by the follower.
  // A voter that lagged (the old leader committed without it) says where its log ends: where ours holds
  // the same entry, the logs match up to it (Log Matching), so replicate from there rather than send it
  // an append from our end that it would refuse a round trip later (a follower 16-300 entries behind in
  // 12 of 20 events of `bench --failover --clients 16`). Liveness only, as above.
  for (ProgressTracker::Member& m : tracker_.members()) {
    if (m.id == config_.id) continue;
    m.progress.state = ProgressState::kReplicate;
    start_at_voters_log_end(m.progress, m.progress.voted_last_index, m.progress.voted_last_term);
  }
  // A no-op in the new term lets the leader commit — and so learn the true commit index — without
  // waiting for a client (§5.4.2, §8); ReadIndex waits for it.
  log_.append_local(term_, EntryType::kNoop, {}, arena_);
  append_pending_ = true;
}

void Core::start_at_voters_log_end(Progress& pr, Index last_index, Term last_term) {
  if (last_index != 0 && last_index + 1 < pr.next && log_.term(last_index) == last_term)
    pr.next = last_index + 1;
}

void Core::start_election(bool pre_vote, bool leader_transfer) {
  Term vote_term;
  if (pre_vote) {
    become_pre_candidate();
    vote_term = term_ + 1;
  } else {
    become_candidate();
    vote_term = term_;
    for (ProgressTracker::Member& m : tracker_.members()) m.progress.voted_last_index = 0;
    if (campaign_peer_down_) ++elections_by_peer_down_;
  }
  campaign_transfer_ = leader_transfer;
  tracker_.record_vote(config_.id, true);
  if (tracker_.tally_votes() == VoteResult::kWon) {  // we are the only voter
    if (pre_vote) {
      start_election(false, leader_transfer);
    } else {
      become_leader();
    }
    return;
  }
  for (const NodeId peer : tracker_.voters().voters()) {
    if (peer == config_.id) continue;
    send(VoteRequest{config_.id, peer, vote_term, log_.last_index(), log_.last_term(), pre_vote,
                     leader_transfer});
  }
}

// ------------------------------------------------------------------------------- handlers ----

void Core::step_leader(const Message& m) {
  if (tracker_.progress(message_from(m)) == nullptr) {
    ++dropped_messages_;  // a removed node's late answer, or one not yet added
    return;
  }
  if (const auto* r = std::get_if<AppendResponse>(&m)) {
    handle_append_response(*r);
  } else if (const auto* h = std::get_if<HeartbeatResponse>(&m)) {
    handle_heartbeat_response(*h);
  } else if (const auto* s = std::get_if<InstallSnapshotResponse>(&m)) {
    handle_install_snapshot_response(*s);
  } else if (const auto* v = std::get_if<VoteResponse>(&m); v != nullptr && !v->pre_vote && v->granted) {
    // A grant read after the election was won (5 nodes: in the same batch as the deciding one): its
    // log end still counts while nothing has gone to that voter yet.
    // (A voter the configuration dropped since has no progress.)
    Progress* pr = tracker_.progress(v->from);
    if (pr != nullptr && pr->state == ProgressState::kReplicate && pr->match == 0 &&
        pr->inflights.count() == 0)
      start_at_voters_log_end(*pr, v->last_log_index, v->last_log_term);
  }
  // Anything else at our term is stale or impossible (one leader per term): ignore it.
  drive_repair();  // (after the handler: a change re-shapes the tracker its references point into)
}

void Core::step_candidate(const Message& m) {
  if (const auto* v = std::get_if<VoteResponse>(&m)) {
    if (v->pre_vote == (role_ == Role::kPreCandidate)) handle_vote_response(*v);
    return;
  }
  if (is_leader_traffic(m)) {
    // A leader of our term exists (§5.2): give up the candidacy and follow it.
    become_follower(term_, message_from(m));
    step_follower(m);
  }
}

void Core::step_follower(const Message& m) {
  if (is_leader_traffic(m)) {
    election_elapsed_ = 0;
    campaign_peer_down_ = false;
    leader_ = message_from(m);
  }
  if (const auto* a = std::get_if<AppendEntries>(&m)) {
    handle_append_entries(*a);
  } else if (const auto* h = std::get_if<Heartbeat>(&m)) {
    handle_heartbeat(*h);
  } else if (const auto* s = std::get_if<InstallSnapshot>(&m)) {
    handle_install_snapshot(*s);
  } else if (const auto* t = std::get_if<TimeoutNow>(&m)) {
    handle_timeout_now(*t);
  }
}

void Core::handle_vote_request(const VoteRequest& m) {
  if (grants(m)) {
    send(VoteResponse{config_.id, m.from, m.term, m.pre_vote, true, log_.last_index(), log_.last_term()});
    if (!m.pre_vote) {
      election_elapsed_ = 0;
      vote_ = m.from;
      ++votes_granted_;
    } else if (campaign_peer_down_ && (role_ == Role::kFollower || role_ == Role::kPreCandidate)) {
      // Someone ahead of us in the stagger campaigns: leave it the field for a whole election timeout
      // rather than split the vote with it when our own turn comes — or now, if our turn came before
      // its death signal did: a pre-candidate steps back and keeps its term (§9.6, the pre-vote
      // promised nothing). Two winning pre-votes would split the real vote (5 nodes: 2 against 2).
      if (role_ == Role::kPreCandidate) become_follower(term_, kNoNode);
      campaign_peer_down_ = false;
      election_elapsed_ = 0;
    }
  } else {
    send(VoteResponse{config_.id, m.from, term_, m.pre_vote, false});
    // Two death-started candidates in one term each hold their own vote and may split the rest (5 nodes:
    // 2 against 2) until a timeout. The one that ranks first (log, then id: both sides judge the same
    // two logs, so exactly one does) campaigns again at once; the other grants it the next term.
    if (!m.pre_vote && m.term == term_ && role_ == Role::kCandidate && campaign_peer_down_ &&
        outranks(m.last_log_index, m.last_log_term, m.from))
      start_election(false, false);
  }
}

bool Core::grants(const VoteRequest& m) const {
  // Whatever our own configuration says (§4.1: servers answer RPCs without consulting it): a learner
  // whose promotion is not yet in its log may be a voter in the candidate's, and refusing would deadlock
  // a cluster whose only other voter waits for it (simulator, profile members, seed 3). A ballot counts
  // only if the candidate's configuration makes its sender a voter.
  // One vote per term (§5.2): we may repeat a vote, or cast one if we have none and know no leader.
  // A pre-vote for a future term promises nothing, so it is judged on the log alone.
  // A lost node (see core.h) may have voted in this term before it lost the record: no vote, no pre-vote.
  const bool can_vote = lost_ == 0 && (vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) ||
                                       (m.pre_vote && m.term > term_));
  const bool log_ok =
      config_.testing_faults.vote_without_log_check || log_.is_up_to_date(m.last_log_index, m.last_log_term);
  return can_vote && log_ok && !outranks_after_peer_down(m);
}

void Core::remember_vote_request(const VoteRequest& request) {
  for (VoteRequest& kept : votes_in_lease_) {
    if (kept.from == request.from) {
      kept = request;
      return;
    }
  }
  votes_in_lease_.push_back(request);
}

void Core::outbid(Term candidate_term) {
  // A death-signalled node whose log beats a candidate's (one ranked first on counters that lagged):
  // that one cannot win with our vote, and a pre-vote of ours in its term would be refused by every
  // voter that gave it that term's vote. Campaign at once, in the next term; it grants our log.
  become_follower(candidate_term, kNoNode);
  campaign_peer_down_ = true;
  start_election(false, false);
}

bool Core::outranks(Index last_index, Term last_term, NodeId other) const {
  if (!log_.is_up_to_date(last_index, last_term)) return true;  // our log is the more up to date
  return last_term == log_.last_term() && last_index == log_.last_index() && config_.id < other;
}

bool Core::outranks_after_peer_down(const VoteRequest& m) const {
  // After a death signal the survivors may campaign at the same moment (the stagger reads counters that
  // lag). A pre-candidate started by peer_down keeps its pre-vote from an equal log of a higher id, so
  // two equal pre-candidates do not both win and split the real vote. Liveness only.
  if (!m.pre_vote || role_ != Role::kPreCandidate || !campaign_peer_down_) return false;
  return m.last_log_term == log_.last_term() && m.last_log_index == log_.last_index() && m.from > config_.id;
}

void Core::handle_vote_response(const VoteResponse& m) {
  if (!m.pre_vote && m.granted) {
    if (Progress* pr = tracker_.progress(m.from)) {
      pr->voted_last_index = m.last_log_index;
      pr->voted_last_term = m.last_log_term;
    }
  }
  tracker_.record_vote(m.from, m.granted);
  switch (tracker_.tally_votes()) {
    case VoteResult::kWon:
      if (role_ == Role::kPreCandidate) {
        start_election(false, campaign_transfer_);
      } else {
        become_leader();
      }
      break;
    case VoteResult::kLost:
      become_follower(term_, kNoNode);
      break;
    case VoteResult::kPending:
      break;
  }
}

void Core::handle_append_entries(const AppendEntries& m) {
  for (std::size_t k = 0; k < m.entries.size(); ++k) {
    if (m.entries[k].index != m.prev_log_index + 1 + k) {
      ++dropped_messages_;  // malformed: entries must follow prev_log_index consecutively
      return;
    }
  }
  check_committed_agreement(m);
  AppendResponse r{.from = config_.id, .to = m.from, .term = term_, .incarnation = config_.incarnation};
  if (m.prev_log_index < log_.committed()) {
    // Everything up to our commit index matches the leader already; tell it so.
    r.success = true;
    r.match_index = log_.committed();
  } else if (log_.matches(m.prev_log_index, m.prev_log_term)) {
    const RaftLog::LeaderAppend appended = log_.append_from_leader(m.prev_log_index, m.entries, arena_);
    if (appended.first_new <= appended.last) {
      // §4.1: a cut suffix takes its changes back; the new entries' changes are in force at once.
      const bool undone = conf_.truncate_from(appended.first_new);
      const bool changed = record_conf_changes(
          m.entries.subspan(static_cast<std::size_t>(appended.first_new - m.prev_log_index - 1)));
      if (undone || changed) enter_config();
    }
    commit_to(std::min(m.leader_commit, appended.last));
    r.success = true;
    r.match_index = appended.last;
  } else {
    r.reject_index = m.prev_log_index;
    if (m.prev_log_index > log_.last_index()) {
      r.conflict_index = log_.last_index() + 1;
      r.conflict_term = 0;
    } else {
      r.conflict_term = log_.term(m.prev_log_index).value_or(0);
      r.conflict_index = log_.first_index_of_term_at(m.prev_log_index);
    }
  }
  leave_lost_if_repaired();
  r.lost = lost_;
  send(r);
}

void Core::handle_heartbeat(const Heartbeat& m) {
  commit_to(std::min(m.commit, log_.last_index()));
  leave_lost_if_repaired();
  HeartbeatResponse r{config_.id, m.from, term_, m.context, config_.incarnation, lost_};
  // The leader acts on an answer only for a read round, a lost or restarted follower (the incarnation
  // is news until answered once per term) or one it has more to send (its match, which bounds m.commit,
  // below our last index).
  r.urgent =
      m.context != 0 || lost_ != 0 || heartbeat_answered_term_ != term_ || m.commit != log_.last_index();
  heartbeat_answered_term_ = term_;
  send(r);
}

void Core::handle_install_snapshot(const InstallSnapshot& m) {
  InstallSnapshotResponse r{config_.id, m.from, term_, log_.committed(), config_.incarnation, 0};
  if (m.meta.index > log_.committed()) {
    if (log_.matches(m.meta.index, m.meta.term)) {
      commit_to(m.meta.index);  // we hold the snapshot's entries already: just fast-forward
    } else {
      log_.restore(Snapshot{m.meta, m.data}, arena_);
      conf_.reset(m.meta.index, conf_of(m.meta));
      enter_config();
    }
    r.match_index = m.meta.index;
  }
  leave_lost_if_repaired();
  r.lost = lost_;
  send(r);
}

void Core::check_committed_agreement(const AppendEntries& m) const {
  // Leader Completeness (§5.4.3; dissertation §3.6.3): a leader's log holds every committed entry, so no
  // entry it sends — nor its prev_log — may differ from one we know committed. If one does, a node lost
  // or damaged entries it had persisted: stop and say where, instead of answering "we match" (the
  // prev < commit shortcut below) or truncating committed entries.
  const Index commit = log_.committed();
  if (m.prev_log_index > commit) return;  // the usual case: nothing at or below our commit to compare
  const auto differs = [this](Index i, Term t) {
    const std::optional<Term> ours = log_.term(i);  // nullopt: compacted away, nothing to compare
    return ours && *ours != t;
  };
  Index at = m.prev_log_index;
  Term theirs = m.prev_log_term;
  if (!differs(at, theirs)) {
    const auto conflict = std::find_if(m.entries.begin(), m.entries.end(), [&](const Entry& e) {
      return e.index <= commit && differs(e.index, e.term);
    });
    if (conflict == m.entries.end()) return;
    at = conflict->index;
    theirs = conflict->term;
  }
  const std::string entries = m.entries.empty() ? "no entries"
                                                : "entries " + std::to_string(m.entries.front().index) +
                                                      " (term " + std::to_string(m.entries.front().term) +
                                                      ") to " + std::to_string(m.entries.back().index) +
                                                      " (term " + std::to_string(m.entries.back().term) + ")";
  throw SafetyViolation(
      "raft safety violation on node " + std::to_string(config_.id) + ": leader " + std::to_string(m.from) +
      " (term " + std::to_string(m.term) + ") sent prev_log " + std::to_string(m.prev_log_index) + " (term " +
      std::to_string(m.prev_log_term) + ") with " + entries + "; its entry " + std::to_string(at) +
      " has term " + std::to_string(theirs) + " where this node holds term " +
      std::to_string(log_.term(at).value_or(0)) + ", at or below this node's commit index " +
      std::to_string(commit) + " (its log ends at " + std::to_string(log_.last_index()) + ", term " +
      std::to_string(log_.last_term()) +
      "). A committed entry would be rewritten: some node lost or damaged entries it had persisted");
}

void Core::handle_timeout_now(const TimeoutNow&) {
  // The leader asks us to take over: skip the pre-vote and override the voters' lease.
  if (may_campaign()) start_election(false, true);
}

Core::Sender Core::track_incarnation(Progress& pr, std::uint64_t incarnation) {
  if (incarnation == 0 || incarnation == pr.incarnation) return Sender::kKnown;  // 0: the host does not track
  if (incarnation < pr.incarnation) return Sender::kRetired;
  const bool first = pr.incarnation == 0;
  pr.incarnation = incarnation;
  pr.said_not_lost = false;
  if (first) return Sender::kKnown;  // the first we hear of: whatever it says, it says for itself
  // The follower restarted. Dissertation §3.8 assumes it kept what it persisted, but a wiped or damaged
  // store breaks that (Alagappan et al., FAST'18): the old match index is a claim nobody alive vouches
  // for. Drop it — commit quorums stop counting it, the commit index itself never moves back — and probe
  // from the end of our log; the follower's answer says where its log really ends.
  pr.match = 0;
  pr.next = log_.last_index() + 1;
  become_probe(pr);
  ++progress_resets_;
  return Sender::kRestarted;
}

void Core::handle_append_response(const AppendResponse& m) {
  Progress& pr = *tracker_.progress(m.from);
  const Sender sender = track_incarnation(pr, m.incarnation);
  if (sender == Sender::kRetired) return;
  pr.heard_since_tick = true;
  note_lost(pr, m.from, m.lost);
  if (m.success) {
    const bool was_paused = is_paused(pr);
    if (m.match_index > pr.match) {
      pr.match = m.match_index;
      pr.next = std::max(pr.next, pr.match + 1);
      switch (pr.state) {
        case ProgressState::kProbe:
          become_replicate(pr);
          break;
        case ProgressState::kReplicate:
          pr.inflights.free_to(pr.match);
          break;
        case ProgressState::kSnapshot:
          if (pr.match >= pr.pending_snapshot) become_replicate(pr);
          break;
      }
      if (maybe_commit()) {
        commit_advanced();
      } else if (was_paused) {
        // Messages held back while paused may have carried a newer commit index: send it now.
        send_append(m.from, config_.broadcast_commit);
      }
      if (m.from == transfer_target_ && pr.match == log_.last_index()) {
        send(TimeoutNow{config_.id, m.from, term_});
      }
    } else if (pr.state == ProgressState::kProbe) {
      pr.probe_sent = false;  // a duplicate ack still proves the follower is reachable
    }
  } else {
    if (sender == Sender::kKnown) {
      // Stale: the same incarnation acknowledged that index since (a restarted one starts over instead).
      if (m.reject_index <= pr.match) return;
      if (pr.state == ProgressState::kProbe && m.reject_index != pr.next - 1) return;  // not our probe
    }
    Index next = m.conflict_index;
    if (m.conflict_term != 0) {
      // Skip the follower's whole conflicting term: if we hold that term, resume after our last entry
      // of it; otherwise resume at the first index the follower holds it from.
      const Index j =
          log_.last_index_with_term_at_most(std::min(m.reject_index, log_.last_index()), m.conflict_term);
      if (log_.term(j) == m.conflict_term) next = j + 1;
    }
    pr.next = std::max(std::min(next, m.reject_index), pr.match + 1);
    become_probe(pr);
  }
  while (send_append(m.from, false)) {
  }
}

void Core::handle_heartbeat_response(const HeartbeatResponse& m) {
  Progress& pr = *tracker_.progress(m.from);
  if (track_incarnation(pr, m.incarnation) == Sender::kRetired) return;
  pr.heard_since_tick = true;
  pr.probe_sent = false;
  note_lost(pr, m.from, m.lost);
  if (pr.state == ProgressState::kReplicate && pr.inflights.full()) pr.inflights.free_first_one();
  if (pr.match < log_.last_index()) send_append(m.from, true);
  if (m.context != 0 && m.context > pr.read_round_acked) {
    pr.read_round_acked = m.context;
    release_reads();
  }
}

void Core::handle_install_snapshot_response(const InstallSnapshotResponse& m) {
  Progress& pr = *tracker_.progress(m.from);
  const Sender sender = track_incarnation(pr, m.incarnation);
  if (sender == Sender::kRetired) return;
  pr.heard_since_tick = true;
  note_lost(pr, m.from, m.lost);
  // A restarted follower persisted the snapshot before answering: its match index is its own. So did one
  // whose answer comes after our wait for it ran out (tick()), its install having taken longer than an
  // election timeout: take the match it raises then too. The image the probe sends again is one it holds
  // installed, which its host only acknowledges to our sender: no other answer would ever come.
  if (pr.state != ProgressState::kSnapshot && sender != Sender::kRestarted && m.match_index <= pr.match)
    return;
  pr.match = std::max(pr.match, m.match_index);
  // The follower told us exactly where its log ends: replicate from there, unless that was compacted
  // too (then probing finds out and sends the newer snapshot).
  if (pr.match + 1 >= log_.first_index()) {
    become_replicate(pr);
  } else {
    pr.next = pr.match + 1;
    become_probe(pr);
  }
  if (maybe_commit()) commit_advanced();
  while (send_append(m.from, false)) {
  }
}

// ---------------------------------------------------------------------------- replication ----

void Core::become_probe(Progress& pr) {
  pr.state = ProgressState::kProbe;
  pr.probe_sent = false;
  pr.pending_snapshot = 0;
  pr.inflights.reset();
}

void Core::become_replicate(Progress& pr) {
  pr.state = ProgressState::kReplicate;
  pr.next = pr.match + 1;
  pr.inflights.reset();
}

bool Core::is_paused(const Progress& pr) const {
  switch (pr.state) {
    case ProgressState::kProbe:
      return pr.probe_sent;
    case ProgressState::kReplicate:
      return pr.inflights.full();
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

bool Core::send_append(NodeId to, bool allow_empty) {
  Progress& pr = *tracker_.progress(to);
  if (is_paused(pr)) return false;
  const Index last = log_.last_index();
  if (pr.next > last && !allow_empty) return false;
  const Index prev = pr.next - 1;
  const std::optional<Term> prev_term = log_.term(prev);
  if (!prev_term || pr.next < log_.first_index()) return send_snapshot(to);

  std::span<Entry> entries;
  if (pr.next <= last) {
    slice_scratch_.clear();
    log_.slice(pr.next, last + 1, config_.max_msg_bytes, slice_scratch_);
    entries = arena_.allocate_array<Entry>(slice_scratch_.size());
    for (std::size_t k = 0; k < entries.size(); ++k) {
      Entry e = slice_scratch_[k];
      // Unstable entries already live in the arena until advance(); storage's may move before then.
      if (e.index < log_.unstable_offset()) e.data = arena_.copy(e.data);
      entries[k] = e;
    }
  }
  send(AppendEntries{config_.id, to, term_, prev, *prev_term, log_.committed(), entries});
  if (pr.state == ProgressState::kReplicate) {
    if (!entries.empty()) {
      pr.next = entries.back().index + 1;
      pr.inflights.add(entries.back().index);
    }
  } else {
    pr.probe_sent = true;
  }
  return !entries.empty();
}

bool Core::send_snapshot(NodeId to) {
  const Snapshot snapshot = log_.storage().snapshot();
  if (snapshot.meta.index == 0 || snapshot.meta.index + 1 < log_.first_index()) {
    return false;  // nothing usable yet; the application has not stored a snapshot covering the gap
  }
  Progress& pr = *tracker_.progress(to);
  pr.state = ProgressState::kSnapshot;
  pr.pending_snapshot = snapshot.meta.index;
  pr.snapshot_elapsed = 0;
  pr.inflights.reset();
  send(InstallSnapshot{config_.id, to, term_, snapshot.meta, arena_.copy(snapshot.data)});
  return false;
}

void Core::broadcast_heartbeat(std::uint64_t context) {
  for (const ProgressTracker::Member& m : tracker_.members()) {
    if (m.id == config_.id) continue;
    const Index commit = std::min(log_.committed(), m.progress.match);
    send(Heartbeat{config_.id, m.id, term_, commit, context});
  }
}

void Core::flush_pending() {
  if (role_ != Role::kLeader) return;
  if (append_pending_ || commit_broadcast_pending_) {
    for (const ProgressTracker::Member& m : tracker_.members()) {
      if (m.id == config_.id) continue;
      // One message may carry the new commit index even without entries; then fill the window.
      if (!send_append(m.id, commit_broadcast_pending_)) continue;
      while (send_append(m.id, false)) {
      }
    }
    append_pending_ = false;
    commit_broadcast_pending_ = false;
  }
  if (read_heartbeat_pending_) {
    broadcast_heartbeat(read_round_);
    read_heartbeat_pending_ = false;
  }
}

bool Core::maybe_commit() {
  const Index candidate = tracker_.committed_index();
  if (candidate <= log_.committed()) return false;
  // §5.4.2: only an entry of the current term is committed by counting replicas (Figure 8).
  if (log_.term(candidate) != term_ && !config_.testing_faults.commit_previous_term_by_counting) return false;
  const bool first_in_term = !committed_in_current_term();
  log_.set_committed(candidate);
  if (first_in_term && committed_in_current_term()) {
    for (const std::uint64_t context : reads_before_commit_) add_read(context);
    reads_before_commit_.clear();
  }
  return true;
}

void Core::commit_advanced() {
  if (config_.broadcast_commit) commit_broadcast_pending_ = true;
  hand_over_if_removed();
}

void Core::commit_to(Index index) {
  if (index > log_.committed()) log_.set_committed(index);
}

bool Core::committed_in_current_term() const {
  return log_.term(log_.committed()) == term_;
}

// ------------------------------------------------------------------------------ ReadIndex ----

void Core::add_read(std::uint64_t context) {
  // Reads arriving before the next heartbeat round goes out share that round.
  if (!read_heartbeat_pending_) {
    ++read_round_;
    read_heartbeat_pending_ = tracker_.voters().voters().size() > 1 || !is_voter();
  }
  pending_reads_.push_back({context, log_.committed(), read_round_});
  release_reads();
}

void Core::release_reads() {
  std::size_t released = 0;
  for (const PendingRead& read : pending_reads_) {
    if (!tracker_.round_confirmed(read.round, config_.id)) break;
    read_states_.push_back({read.index, read.context});
    ++released;
  }
  pending_reads_.erase(pending_reads_.begin(),
                       pending_reads_.begin() + static_cast<std::ptrdiff_t>(released));
}

// ---------------------------------------------------------------------------------- timers ----

void Core::tick_election() {
  ++election_elapsed_;
  if (election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    if (!may_campaign()) {
      // Learners and removed nodes never campaign (§4.2.1, §4.2.3); but a leader unheard of for an
      // election timeout is forgotten, so its lease no longer holds back our vote (we may be a voter in
      // a candidate's configuration that has not reached our log).
      leader_ = kNoNode;
      return;
    }
    // The first firing after peer_down's delay is its election; a later one is the timeout's own.
    if (role_ != Role::kFollower) campaign_peer_down_ = false;
    start_election(config_.pre_vote, false);
  }
}

void Core::tick_heartbeat(int count) {
  tracker_.tick(count);
  if (!quorum_heard_recently()) {
    become_follower(term_, kNoNode);  // CheckQuorum: we may be the minority side of a partition
    return;
  }
  // The timers below fire at most once per call, however many times they fell due in a replay: what
  // each does is the same the second time (one heartbeat round carries what several would).
  heartbeat_elapsed_ += count;
  election_elapsed_ += count;
  if (election_elapsed_ >= config_.election_tick) {
    election_elapsed_ %= config_.election_tick;
    // A node removed before the last election timeout has heard the removal commit by now (heartbeats
    // carry the commit index), so it stops campaigning: stop sending to it.
    if (departing_until_ != 0 && log_.committed() >= departing_until_) enter_config();
    if (!is_voter() && conf_.current_index() <= log_.committed()) {
      become_follower(term_, kNoNode);  // removed (§4.2.2) and the hand-over did not finish: just go
      return;
    }
    transfer_target_ = kNoNode;  // a transfer that did not finish within an election timeout is dropped
  }
  for (ProgressTracker::Member& m : tracker_.members()) {
    Progress& pr = m.progress;
    if (m.id == config_.id || pr.state != ProgressState::kSnapshot) continue;
    pr.snapshot_elapsed += count;
    if (pr.snapshot_elapsed >= config_.election_tick) {
      // No answer: assume the snapshot was lost and probe again (which resends it if still needed).
      pr.next = pr.match + 1;
      become_probe(pr);
    }
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ %= config_.heartbeat_tick;
    // Repeat the newest read round so a lost heartbeat cannot stall pending reads.
    broadcast_heartbeat(pending_reads_.empty() ? 0 : read_round_);
  }
}

bool Core::quorum_heard_recently() const {
  if (!config_.check_quorum) return true;
  const std::uint64_t heard = tracker_.quorum_heard_tick(config_.id);
  return tracker_.ticks() - heard <= static_cast<std::uint64_t>(config_.election_tick);
}

bool Core::in_lease() const {
  return config_.check_quorum && leader_ != kNoNode && election_elapsed_ < config_.election_tick;
}

// ----------------------------------------------------------------------------- membership ----

ConfState Core::conf_of(const SnapshotMeta& meta) const {
  if (!meta.conf_state.empty()) return meta.conf_state;
  ConfState bootstrap;
  for (const NodeId id : config_.voters) bootstrap.voters.insert(id);
  return bootstrap;
}

bool Core::record_conf_changes(std::span<const Entry> entries) {
  bool any = false;
  for (const Entry& e : entries) {
    if (e.type != EntryType::kConfChange) continue;
    const DecodedConfChange decoded = decode_conf_change(e.data);
    if (!decoded) {
      throw std::runtime_error("raft: node " + std::to_string(config_.id) + ": entry " +
                               std::to_string(e.index) + " (term " + std::to_string(e.term) +
                               "): " + decoded.error);
    }
    const ConfChangeRefusal refusal = check_conf_change(conf_.current(), decoded.change, config_.max_nodes);
    if (refusal != ConfChangeRefusal::kNone) {
      // The leader checked it against the same log prefix: the nodes disagree on the bootstrap voters or
      // on max_nodes.
      throw std::runtime_error("raft: node " + std::to_string(config_.id) + ": entry " +
                               std::to_string(e.index) + " (" + to_string(decoded.change.type) + " " +
                               std::to_string(decoded.change.node) +
                               ") does not apply to this node's configuration: " + to_string(refusal) +
                               " (are Config::voters and max_nodes the same on every node?)");
    }
    conf_.record(e.index, apply_conf_change(conf_.current(), decoded.change));
    any = true;
  }
  return any;
}

void Core::enter_config() {
  ConfState members = conf_.current();
  departing_until_ = 0;
  if (role_ == Role::kLeader && conf_.current_index() > log_.committed()) {
    // §4.2.3: a leader keeps replicating to the node it is removing, as to a learner, until an election
    // timeout after the removal commits, so that the node most likely holds the entry and learns it
    // committed, and so stops campaigning (if it does not, PreVote and the lease keep it from disrupting
    // the cluster).
    const ConfState& before = conf_.at(conf_.current_index() - 1);
    for (const NodeId id : before.voters.ids())
      if (!members.is_member(id) && id != config_.id) members.learners.insert(id);
    for (const NodeId id : before.learners.ids())
      if (!members.is_member(id)) members.learners.insert(id);
    if (members != conf_.current()) departing_until_ = conf_.current_index();
  }
  tracker_.set_config(members, log_.last_index() + 1);
  if (transfer_target_ != kNoNode && !tracker_.voters().contains(transfer_target_))
    transfer_target_ = kNoNode;
}

void Core::hand_over_if_removed() {
  if (role_ != Role::kLeader || is_voter() || transfer_target_ != kNoNode) return;
  if (conf_.current_index() > log_.committed()) return;  // §4.2.2: lead until the removal commits
  NodeId best = kNoNode;
  Index best_match = 0;
  for (const NodeId id : tracker_.voters().voters()) {
    const Progress& pr = *tracker_.progress(id);
    if (pr.lost == 0 && (best == kNoNode || pr.match > best_match)) {
      best = id;
      best_match = pr.match;
    }
  }
  if (best != kNoNode) start_transfer(best);  // else it just goes after an election timeout
}

// ----------------------------------------------------------------------------- lost state ----

std::optional<ConfChange> Core::next_repair_step() const {
  const ConfState& conf = conf_.current();
  if (conf.repairing != kNoNode) {
    const NodeId node = conf.repairing;
    if (!conf.is_member(node)) return ConfChange{ConfChangeType::kAddLearner, node, conf.repair_incarnation};
    const Progress* pr = tracker_.progress(node);
    if (pr == nullptr || !conf.learners.contains(node)) return std::nullopt;
    // Lost again (wiped while being repaired): mark it for the new loss, returning as it would have.
    if (pr->lost != 0 && pr->lost != conf.repaired_loss()) {
      return ConfChange{ConfChangeType::kAddLearner, node,
                        pr->lost | (conf.repair_incarnation & kRepairAsLearner)};
    }
    // Done once it has said it left lost mode and holds the committed log (§4.2.1): a voter is promoted,
    // a learner re-added unmarked.
    if (pr->lost != 0 || pr->match < log_.committed()) return std::nullopt;
    return ConfChange{
        conf.repair_returns_learner() ? ConfChangeType::kAddLearner : ConfChangeType::kPromoteLearner, node};
  }
  // (The tracker's members, not conf.voters.ids(): this runs on every step and must not allocate.)
  for (const ProgressTracker::Member& m : tracker_.members()) {
    if (m.id == config_.id || m.progress.lost == 0) continue;
    if (conf.voters.contains(m.id)) return ConfChange{ConfChangeType::kRemoveNode, m.id, m.progress.lost};
    if (conf.learners.contains(m.id))
      return ConfChange{ConfChangeType::kAddLearner, m.id, m.progress.lost | kRepairAsLearner};
  }
  return std::nullopt;
}

void Core::drive_repair() {
  if (role_ != Role::kLeader) return;
  const std::optional<ConfChange> step = next_repair_step();
  if (!step || check_conf_change_proposal(*step) != Status::kOk) return;
  propose_change(*step);
  if (step->repair_incarnation == 0) ++repairs_;  // the last step: a voter's promotion, a learner's re-add
}

void Core::note_lost(Progress& pr, NodeId from, std::uint64_t lost) {
  if (lost == 0) {
    pr.said_not_lost = true;
  } else if (pr.said_not_lost) {
    return;  // late, from before its repair (found by the simulator, profile losthardstate, seed 56)
  }
  pr.lost = lost;
  if (lost != 0 && from == transfer_target_) transfer_target_ = kNoNode;
}

void Core::leave_lost_if_repaired() {
  if (lost_ == 0) return;
  const ConfState& committed = conf_.at(log_.committed());
  if (committed.repairing == config_.id && committed.repaired_loss() == lost_ &&
      !committed.voters.contains(config_.id))
    lost_ = 0;
}

// ------------------------------------------------------------------------------- plumbing ----

void Core::send(Message message) {
  // Only a leader's replication traffic may leave before this Ready is durable; everything else
  // (votes, acknowledgements, vote requests) promises persisted state (see ready.h).
  if (role_ == Role::kLeader && (is_leader_traffic(message) || std::holds_alternative<TimeoutNow>(message))) {
    messages_.push_back(message);
  } else {
    messages_after_persist_.push_back(message);
  }
}

}  // namespace shmraft::raft
