#include "tests/sim/cluster_sim.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <map>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "node/raft/codec.h"
#include "node/raft/core.h"
#include "node/raft/memory_storage.h"
#include "node/raft/ready_handler.h"
#include "tests/sim/state_hash.h"

namespace shmraft::sim {

namespace {

std::string_view as_chars(raft::Bytes bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}
raft::Bytes as_bytes(std::string_view chars) {
  return {reinterpret_cast<const std::byte*>(chars.data()), chars.size()};
}

// A simulated snapshot is the state hash of the applied prefix.
std::array<std::byte, 8> snapshot_data(uint64_t state_hash) {
  std::array<std::byte, 8> bytes;
  std::memcpy(bytes.data(), &state_hash, bytes.size());
  return bytes;
}
uint64_t snapshot_hash(raft::Bytes data) {
  if (data.size() != 8) {
    throw std::logic_error("a snapshot's data is " + std::to_string(data.size()) +
                           " bytes, but the simulator only ever stores 8-byte state hashes");
  }
  uint64_t hash;
  std::memcpy(&hash, data.data(), sizeof hash);
  return hash;
}

const char* message_name(const raft::Message& message) {
  static constexpr const char* kNames[] = {
      "VoteRequest",       "VoteResponse",    "AppendEntries",           "AppendResponse", "Heartbeat",
      "HeartbeatResponse", "InstallSnapshot", "InstallSnapshotResponse", "TimeoutNow"};
  static_assert(std::size(kNames) == std::variant_size_v<raft::Message>);
  return kNames[message.index()];
}

// The checker's view of a core's whole log: persisted entries plus the unstable tail.
class CoreLogReader final : public LogReader {
 public:
  explicit CoreLogReader(const raft::RaftLog& log) : log_(log) {}
  uint64_t first_index() const override { return log_.first_index(); }
  uint64_t last_index() const override { return log_.last_index(); }
  uint64_t term_at(uint64_t index) const override {
    const std::optional<raft::Term> term = log_.term(index);
    if (!term) throw std::logic_error("the core's log has no term for index " + std::to_string(index));
    return *term;
  }
  EntryView entry_at(uint64_t index) const override {
    const std::optional<raft::Entry> entry = log_.entry(index);
    if (!entry) throw std::logic_error("the core's log has no entry " + std::to_string(index));
    return {entry->term, as_chars(entry->data)};
  }

 private:
  const raft::RaftLog& log_;
};

}  // namespace

// One simulated node: its durable storage, and everything a crash wipes out.
struct SimNode {
  struct Input {
    bool is_tick = false;
    std::vector<std::byte> bytes;       // an encoded message, unless a tick or a death signal
    raft::NodeId dead = raft::kNoNode;  // a death signal: Core::peer_down(dead, delay_ticks)
    int delay_ticks = 0;
  };
  struct Proposal {
    uint64_t term;
    std::string token;
  };

  SimNode(raft::NodeId node_id, uint32_t phase) : id(node_id), tick_phase(phase) {}

  void lose_volatile_state() {
    core.reset();
    ready_handler = raft::ReadyHandler(true);
    inbox.clear();
    ready = nullptr;
    persist_done_step.reset();
    crash_at_step.reset();
    applied = 0;
    state_hash = kEmptyStateHash;
    proposals.clear();
    reads.clear();
    answered_reads.clear();
    soft = {};
  }

  bool idle() const { return core && !ready; }

  // The acknowledged-through watermark, which a real node's storage keeps durably (the storage detects a
  // log that ends below it): the highest index this node promised to hold — in an append or snapshot
  // acknowledgement, or as a leader counting its own log towards commitment. A log cut below it by the
  // protocol lowers it: entries a leader's conflicting entries or snapshot replace were never committed.
  void note_sent(const raft::Message& message) {
    if (const auto* append = std::get_if<raft::AppendResponse>(&message); append && append->success)
      acknowledged_through = std::max(acknowledged_through, append->match_index);
    if (const auto* snapshot = std::get_if<raft::InstallSnapshotResponse>(&message))
      acknowledged_through = std::max(acknowledged_through, snapshot->match_index);
  }
  void note_log_replaced_from(raft::Index index) {
    acknowledged_through = std::min(acknowledged_through, index - 1);
  }

  const raft::NodeId id;
  const uint32_t tick_phase;    // the step within each tick at which this node's clock ticks
  raft::MemoryStorage storage;  // the only thing that survives a crash, with:
  raft::Index acknowledged_through = 0;

  std::unique_ptr<raft::Core> core;  // null while crashed
  raft::ReadyHandler ready_handler{true};
  std::deque<Input> inbox;  // inputs wait here while the node handles a Ready
  raft::DecodeScratch scratch;
  const raft::Ready* ready = nullptr;         // the Ready being handled, until advance()
  std::optional<uint64_t> persist_done_step;  // while that Ready's persist is in progress
  std::optional<uint64_t> crash_at_step;      // a doomed new leader
  uint64_t applied = 0;
  uint64_t state_hash = kEmptyStateHash;
  std::map<uint64_t, Proposal> proposals;       // by index: accepted here, not yet applied
  std::map<uint64_t, uint64_t> reads;           // context -> highest acknowledged index when the read began
  std::vector<raft::ReadState> answered_reads;  // waiting for apply to reach their index
  raft::SoftState soft;
  bool started_lost = false;  // after a storage fault, and not known to be repaired yet
  raft::ConfState conf;       // the configuration of its core when last observed, kept across a crash
};

template <class... Parts>
void ClusterSim::trace(const Parts&... parts) {
  if (!transcript_) return;
  *transcript_ << '[' << now_ / profile_.steps_per_tick << '.' << now_ % profile_.steps_per_tick << "] ";
  (*transcript_ << ... << parts) << '\n';
}

ClusterSim::ClusterSim(const SimProfile& profile, uint64_t seed, std::ostream* transcript,
                       bool trace_messages)
    : profile_(profile),
      seed_(seed),
      transcript_(transcript),
      trace_messages_(trace_messages),
      rng_(seed),
      checker_(profile.total_nodes()),
      network_(profile.total_nodes(), profile) {
  nodes_.resize(profile.total_nodes() + 1);
  for (raft::NodeId id = 1; id <= profile.total_nodes(); ++id) {
    nodes_[id] = std::make_unique<SimNode>(id, static_cast<uint32_t>(rng_.below(profile.steps_per_tick)));
    nodes_[id]->core = std::make_unique<raft::Core>(core_config(id), nodes_[id]->storage);
  }
}

ClusterSim::~ClusterSim() = default;

raft::Config ClusterSim::core_config(raft::NodeId id) {
  raft::Config config;
  config.id = id;
  config.voters = raft::voters_numbered_1_to(profile_.nodes);
  config.max_nodes = std::max(config.max_nodes, profile_.total_nodes());
  config.seed = rng_.next();             // a fresh incarnation draws fresh election timeouts
  config.incarnation = ++incarnations_;  // and grows with every start, as a node's does
  config.election_tick = profile_.election_tick;
  config.heartbeat_tick = profile_.heartbeat_tick;
  config.pre_vote = profile_.pre_vote;
  config.check_quorum = profile_.check_quorum;
  config.broadcast_commit = profile_.broadcast_commit;
  config.max_msg_bytes = profile_.max_msg_bytes;
  config.max_inflight_msgs = profile_.max_inflight_msgs;
  config.max_committed_bytes = profile_.max_committed_bytes;
  config.testing_faults = profile_.testing_faults;
  if (nodes_[id]) config.applied = nodes_[id]->storage.snapshot().meta.index;
  return config;
}

SimResult ClusterSim::run() {
  const uint64_t steps_per_tick = profile_.steps_per_tick;
  bool converged = false;
  try {
    std::vector<SimNode*> order;
    for (now_ = 0; checker_.ok() && !converged; ++now_) {
      const uint64_t tick = now_ / steps_per_tick;
      if (now_ % steps_per_tick == 0) {
        checker_.set_tick(tick);
        stats_.ticks = tick;
        if (tick < profile_.chaos_ticks) {
          run_chaos_tick();
        } else {
          converged = run_healed_tick(tick - profile_.chaos_ticks);
          if (converged || !checker_.ok()) break;
        }
      }
      for (auto& node : nodes_) {
        if (node && node->core && now_ % steps_per_tick == node->tick_phase)
          node->inbox.push_back({true, {}});
      }
      for (auto& node : nodes_) {
        if (node && node->crash_at_step && *node->crash_at_step <= now_) crash(*node);
      }
      for (auto& node : nodes_) {
        if (node && node->persist_done_step && *node->persist_done_step <= now_) finish_ready(*node);
      }
      std::erase_if(death_signals_, [&](const DeathSignal& signal) {
        if (signal.step > now_) return false;
        SimNode& to = *nodes_[signal.to];
        if (to.core) to.inbox.push_back({false, {}, signal.dead, static_cast<int>(rng_.below(3))});
        return true;
      });
      due_.clear();
      network_.take_due(now_, due_);
      for (Packet& packet : due_) {
        SimNode& to = *nodes_[packet.to];
        if (to.core) to.inbox.push_back({false, std::move(packet.bytes)});
      }
      order = live_nodes();
      for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng_.below(i)]);
      for (SimNode* node : order) pump(*node);
    }
    if (checker_.ok() && converged) check_acknowledged_writes();
  } catch (const std::exception& error) {
    checker_.fail(Invariant::kCoreException, error.what());
  }
  for (SimNode* node : live_nodes()) {
    stats_.progress_resets += node->core->progress_resets();
    stats_.repairs += node->core->repairs();
  }
  stats_.leader_terms = checker_.leader_terms();
  stats_.commit_index = checker_.known_commit_index();
  stats_.network = network_.stats();
  if (!checker_.ok()) {
    trace("VIOLATION ", invariant_name(checker_.violation()->invariant), ": ", checker_.violation()->detail);
    trace("cluster: ", cluster_state());
  }
  return SimResult{profile_.name, seed_, checker_.violation(), stats_};
}

void ClusterSim::run_chaos_tick() {
  inject_fault();
  drive_clients();
}

void ClusterSim::inject_fault() {
  if (rng_.chance(profile_.partition)) partition();
  if (rng_.chance(profile_.isolate_leader)) isolate_leader();
  if (rng_.chance(profile_.heal)) {
    network_.heal();
    trace("heal: every link up");
  }
  if (rng_.chance(profile_.crash)) {
    std::vector<SimNode*> live = live_nodes();
    if (!live.empty()) crash(*live[rng_.below(live.size())]);
  }
  if (rng_.chance(profile_.crash_leader)) {
    std::vector<SimNode*> found = leaders(false);
    if (!found.empty()) crash(*found[rng_.below(found.size())]);
  }
  if (rng_.chance(profile_.restart)) {
    std::vector<SimNode*> down;
    for (auto& node : nodes_) {
      if (node && !node->core) down.push_back(node.get());
    }
    if (!down.empty()) restart(*down[rng_.below(down.size())]);
  }
  if (rng_.chance(profile_.false_death_signal)) {
    std::vector<SimNode*> live = live_nodes();
    if (!live.empty()) {
      const raft::NodeId to = live[rng_.below(live.size())]->id;
      signal_death(static_cast<raft::NodeId>(rng_.between(1, profile_.total_nodes())), to, 0);
    }
  }
  if (rng_.chance(profile_.compact)) {
    std::vector<SimNode*> live = live_nodes();
    if (!live.empty()) compact(*live[rng_.below(live.size())]);
  }
}

void ClusterSim::partition() {
  ++stats_.partitions;
  const uint32_t n = profile_.total_nodes();
  if (rng_.chance(300)) {  // one link, one way: asymmetric reachability
    const raft::NodeId from = static_cast<raft::NodeId>(rng_.between(1, n));
    raft::NodeId to = static_cast<raft::NodeId>(rng_.between(1, n - 1));
    if (to >= from) ++to;
    network_.set_link(from, to, false);
    trace("partition: link ", from, "->", to, " cut");
    return;
  }
  // Two sides: each node joins side A with probability 1/2 (a side may end up empty: no partition).
  std::vector<bool> side_a(n + 1);
  std::string a, b;
  for (raft::NodeId id = 1; id <= n; ++id) {
    side_a[id] = rng_.chance(500);
    (side_a[id] ? a : b) += std::to_string(id);
  }
  for (raft::NodeId x = 1; x <= n; ++x) {
    for (raft::NodeId y = 1; y <= n; ++y) {
      if (side_a[x] != side_a[y]) network_.set_link(x, y, false);
    }
  }
  trace("partition: {", a, "} | {", b, "}");
}

void ClusterSim::isolate_leader() {
  std::vector<SimNode*> found = leaders(false);
  if (found.empty()) return;
  ++stats_.partitions;
  const uint32_t n = profile_.total_nodes();
  std::vector<bool> cut_off(n + 1, false);
  cut_off[found[rng_.below(found.size())]->id] = true;
  // Up to a minority in all: the isolated leader may still replicate to a companion or two.
  for (uint64_t companions = rng_.below((n - 1) / 2); companions > 0; --companions) {
    cut_off[rng_.between(1, n)] = true;
  }
  std::string group;
  for (raft::NodeId x = 1; x <= n; ++x) {
    if (cut_off[x]) group += std::to_string(x);
    for (raft::NodeId y = 1; y <= n; ++y) {
      if (cut_off[x] != cut_off[y]) network_.set_link(x, y, false);
    }
  }
  trace("partition: leader cut off with its group {", group, "}");
}

void ClusterSim::crash(SimNode& node) {
  ++stats_.crashes;
  std::string kept;
  if (node.persist_done_step) {
    // The crash interrupts the persist: what reached storage is a prefix of (snapshot, entries, hard
    // state), in the order the Ready contract prescribes, as with a real node killed mid-write.
    const raft::Ready& ready = *node.ready;
    const size_t total = (ready.snapshot ? 1 : 0) + ready.entries.size() + (ready.hard_state ? 1 : 0);
    size_t budget = profile_.torn_persist ? rng_.below(total + 1) : (rng_.chance(500) ? total : 0);
    if (budget < total) ++stats_.torn_persists;
    kept = " (persisted " + std::to_string(budget) + " of " + std::to_string(total) +
           " parts of its last Ready)";
    if (ready.snapshot && budget > 0) {
      node.note_log_replaced_from(ready.snapshot->meta.index + 1);
      node.storage.apply_snapshot(*ready.snapshot);
      --budget;
    }
    const size_t entries = std::min(budget, ready.entries.size());
    if (entries > 0) node.note_log_replaced_from(ready.entries.front().index);
    node.storage.append(ready.entries.first(entries));
    budget -= entries;
    if (ready.hard_state && budget > 0) node.storage.set_hard_state(*ready.hard_state);
  }
  trace("crash: node ", node.id, kept);
  if (node.core) {
    stats_.progress_resets += node.core->progress_resets();
    stats_.repairs += node.core->repairs();
  }
  node.lose_volatile_state();
  if (rng_.chance(profile_.death_signal)) {
    for (SimNode* survivor : live_nodes())
      signal_death(node.id, survivor->id, rng_.below(profile_.max_death_signal_delay_steps + 1));
  }
  checker_.observe_crash(node.id);
}

void ClusterSim::signal_death(raft::NodeId dead, raft::NodeId to, uint64_t delay_steps) {
  if (dead == to) return;
  ++stats_.death_signals;
  death_signals_.push_back({now_ + delay_steps, dead, to});
}

bool ClusterSim::under_repair(SimNode& node) {
  if (!node.started_lost) return false;
  // Repaired: no longer lost, and a member its own configuration no longer marks as being repaired.
  if (node.core && node.core->lost() == 0 && node.storage.hard_state().lost == 0) {
    const raft::ConfState& conf = node.core->conf_state();
    if (conf.is_member(node.id) && conf.repairing != node.id) node.started_lost = false;
  }
  return node.started_lost;
}

bool ClusterSim::any_under_repair() {
  for (raft::NodeId id = 1; id < nodes_.size(); ++id)
    if (under_repair(*nodes_[id])) return true;
  return false;
}

bool ClusterSim::storage_fault_allowed(const SimNode& node) {
  if (any_under_repair()) return false;
  // A minority of the voters, in every configuration a node held when last seen: a lone voter, or one of
  // two, would leave no majority that can vote (found at seeds 3 and 8 of lostmembers).
  for (raft::NodeId id = 1; id < nodes_.size(); ++id) {
    const raft::ConfState& conf = nodes_[id]->conf;
    if (conf.voters.contains(node.id) && conf.voters.size() < 3) return false;
  }
  return true;
}

bool ClusterSim::damage_storage(SimNode& node) {
  raft::MemoryStorage& storage = node.storage;
  const raft::Index first = std::max(storage.first_index(), storage.snapshot().meta.index + 1);
  const raft::Index last = storage.last_index();
  // Nothing above this was promised: not acknowledged, not known committed (the commit index covers
  // the snapshot, so promised >= first - 1).
  const raft::Index promised =
      std::min(last, std::max(node.acknowledged_through, storage.hard_state().commit));
  const StorageFault fault = profile_.storage_fault_kinds[rng_.below(profile_.storage_fault_kinds.size())];
  switch (fault) {
    case StorageFault::kHardState: {
      ++stats_.storage_faults;
      const raft::HardState hard = storage.hard_state();
      storage.set_hard_state({});
      trace("storage fault: node ", node.id, " lost its hard state (term ", hard.term, ", vote ", hard.vote,
            ", commit ", hard.commit, "), kept its log [", first, ", ", last, "]");
      return true;
    }
    case StorageFault::kTornTail:
      if (last == promised) return false;  // nothing unacknowledged to lose: no fault
      ++stats_.storage_faults;
      ++stats_.torn_tails;
      keep_log_through(node, promised + rng_.below(last - promised));
      trace("storage fault: node ", node.id, " lost an unacknowledged tail (it acknowledged through ",
            promised, ", held up to ", last, "): starts healthy");
      return false;
    case StorageFault::kLogSuffix:
      if (promised < first) break;  // nothing acknowledged after the snapshot: lose everything instead
      ++stats_.storage_faults;
      keep_log_through(node, first - 1 + rng_.below(promised - first + 1));
      trace("storage fault: node ", node.id, " lost its log after ", storage.last_index(),
            " (it acknowledged through ", promised, ", held up to ", last, ")");
      return true;
    case StorageFault::kWipe:
      break;
  }
  ++stats_.storage_faults;
  storage = raft::MemoryStorage();
  node.acknowledged_through = 0;  // the watermark went with the directory
  trace("storage fault: node ", node.id, " lost all its storage");
  return true;
}

void ClusterSim::keep_log_through(SimNode& node, raft::Index keep_to) {
  raft::MemoryStorage& storage = node.storage;
  const raft::Snapshot snapshot = storage.snapshot();
  const raft::Index first = std::max(storage.first_index(), snapshot.meta.index + 1);
  const std::vector<std::byte> snapshot_data(snapshot.data.begin(), snapshot.data.end());
  std::vector<raft::Entry> kept;
  if (keep_to >= first) storage.entries(first, keep_to + 1, SIZE_MAX, kept);
  std::vector<std::vector<std::byte>> payloads;
  payloads.reserve(kept.size());  // the entries' spans point into these
  for (raft::Entry& e : kept) e.data = payloads.emplace_back(e.data.begin(), e.data.end());
  raft::HardState hard = storage.hard_state();
  hard.commit = std::min(hard.commit, keep_to);
  raft::MemoryStorage shorter;
  if (snapshot.meta.index > 0) shorter.apply_snapshot({snapshot.meta, snapshot_data});
  shorter.append(kept);
  shorter.set_hard_state(hard);
  storage = std::move(shorter);
}

void ClusterSim::restart(SimNode& node) {
  const bool faulted =
      profile_.storage_fault > 0 && storage_fault_allowed(node) && rng_.chance(profile_.storage_fault);
  const bool lost = faulted && damage_storage(node) && profile_.detect_lost_storage;
  raft::Config config = core_config(node.id);
  if (lost) {
    // As a node does (node/storage/state_detection.h): the lost mark is stored before the core starts,
    // so a crash before its first persist cannot pass the next start off as intact.
    node.started_lost = true;
    config.state_lost = true;
    raft::HardState hard = node.storage.hard_state();
    hard.lost = config.incarnation;
    node.storage.set_hard_state(hard);
  }
  node.core = std::make_unique<raft::Core>(config, node.storage);
  const raft::Snapshot snapshot = node.storage.snapshot();
  if (snapshot.meta.index > 0) {
    node.applied = snapshot.meta.index;
    node.state_hash = snapshot_hash(snapshot.data);
    checker_.observe_snapshot_restore(node.id, node.applied, node.state_hash);
  }
  const raft::HardState hard = node.storage.hard_state();
  trace("restart: node ", node.id, " term ", hard.term, " vote ", hard.vote, " commit ", hard.commit,
        " log [", node.storage.first_index(), ", ", node.storage.last_index(), "] snapshot ",
        snapshot.meta.index, node.core->lost() != 0 ? " (lost)" : "");
  observe(node);
}

void ClusterSim::compact(SimNode& node) {
  if (!node.idle()) return;
  raft::MemoryStorage& storage = node.storage;
  const uint64_t index = node.applied;
  if (index <= storage.snapshot().meta.index || index > storage.last_index()) return;
  storage.create_snapshot(index, snapshot_data(node.state_hash), node.core->conf_state_at(index));
  // Keep a few entries behind the snapshot sometimes, so followers both catch up from the log and need
  // the snapshot.
  const uint64_t compact_to =
      std::max(storage.first_index() - 1, index - std::min<uint64_t>(index, rng_.below(4)));
  storage.compact(compact_to);
  ++stats_.compactions;
  trace("compact: node ", node.id, " snapshot at ", index, ", log now [", storage.first_index(), ", ",
        storage.last_index(), "]");
}

std::vector<SimNode*> ClusterSim::live_nodes() {
  std::vector<SimNode*> live;
  for (auto& node : nodes_) {
    if (node && node->core) live.push_back(node.get());
  }
  return live;
}

std::vector<SimNode*> ClusterSim::leaders(bool idle_only) {
  std::vector<SimNode*> found;
  for (auto& node : nodes_) {
    if (!node || !node->core || node->core->role() != raft::Role::kLeader) continue;
    if (!idle_only || node->idle()) found.push_back(node.get());
  }
  return found;
}

void ClusterSim::drive_clients() {
  // Clients talk to whoever believes it leads; a deposed leader that does not know it yet is fair game.
  std::vector<SimNode*> candidates = leaders();
  if (candidates.empty()) return;
  if (rng_.chance(profile_.propose)) {
    SimNode& node = *candidates[rng_.below(candidates.size())];
    const uint64_t count = rng_.between(1, 3);
    for (uint64_t k = 0; k < count && node.idle(); ++k) propose(node, "w" + std::to_string(next_token_++));
  }
  candidates = leaders();
  if (!candidates.empty() && rng_.chance(profile_.read)) {
    SimNode& node = *candidates[rng_.below(candidates.size())];
    const uint64_t context = next_read_context_++;
    if (profile_.local_reads) {
      ++stats_.reads_started;
      const raft::ReadState read{node.core->commit_index(), context};
      node.reads[context] = max_acknowledged_index_;
      check_read_answer(node, read);
    } else if (node.core->read_index(context) == raft::Status::kOk) {
      node.reads[context] = max_acknowledged_index_;
      ++stats_.reads_started;
      trace("read: node ", node.id, " context ", context, " must see index ", max_acknowledged_index_);
      pump(node);
    }
  }
  candidates = leaders();
  if (!candidates.empty() && rng_.chance(profile_.transfer)) {
    SimNode& node = *candidates[rng_.below(candidates.size())];
    const raft::NodeId target = static_cast<raft::NodeId>(rng_.between(1, profile_.total_nodes()));
    const raft::Status status = node.core->transfer_leader(target);
    ++stats_.transfers;
    trace("transfer: node ", node.id, " -> ", target, ": ", raft::to_string(status));
    pump(node);
  }
  candidates = leaders();
  // (Guarded so that profiles without membership changes draw the same random numbers as before.)
  if (profile_.membership > 0 && !candidates.empty() && rng_.chance(profile_.membership)) {
    change_membership(*candidates[rng_.below(candidates.size())]);
  }
}

void ClusterSim::change_membership(SimNode& node) {
  const raft::ConfState& conf = node.core->conf_state();
  const raft::NodeId id = static_cast<raft::NodeId>(rng_.between(1, profile_.total_nodes()));
  raft::ConfChange change{raft::ConfChangeType::kRemoveNode, id};
  if (conf.learners.contains(id)) {
    if (rng_.chance(700)) change.type = raft::ConfChangeType::kPromoteLearner;
  } else if (!conf.voters.contains(id)) {
    const bool as_voter = profile_.add_voters && !rng_.chance(800);
    change.type = as_voter ? raft::ConfChangeType::kAddVoter : raft::ConfChangeType::kAddLearner;
  }
  // The operator keeps to the fault model too: the voters change neither way while a lost node awaits
  // its repair, which could leave it half of them, whose majority needs its vote (found at seed 10 of
  // lostmembers: {1, 2, 3} with 3 lost, then 1 removed; and at seed 16483 of the long sweep: a learner
  // promoted to {2, 3} just after it was wiped, before the leader heard it was lost).
  const bool changes_voters = change.type == raft::ConfChangeType::kPromoteLearner ||
                              (change.type == raft::ConfChangeType::kRemoveNode && conf.voters.contains(id));
  if (changes_voters && any_under_repair()) {
    trace("membership: node ", node.id, " holds back ", raft::to_string(change.type), " ", id,
          ": a lost node awaits its repair");
    return;
  }
  const raft::ProposeResult result = node.core->propose_conf_change(change);
  if (result.status == raft::Status::kOk) ++stats_.conf_changes;
  trace("membership: node ", node.id, " proposes ", raft::to_string(change.type), " ", id, ": ",
        raft::to_string(result.status),
        result.status == raft::Status::kOk ? " at " + std::to_string(result.index) : "");
  pump(node);
}

void ClusterSim::propose(SimNode& node, std::string token) {
  const raft::ProposeResult result = node.core->propose(as_bytes(token));
  if (result.status != raft::Status::kOk) return;
  ++stats_.proposals;
  trace("propose: node ", node.id, " ", token, " at ", result.index, " term ", result.term);
  node.proposals[result.index] = SimNode::Proposal{result.term, std::move(token)};
  pump(node);
}

void ClusterSim::pump(SimNode& node) {
  while (node.idle() && checker_.ok()) {
    if (node.core->has_ready()) {
      begin_ready(node);
      continue;
    }
    if (node.inbox.empty()) return;
    SimNode::Input input = std::move(node.inbox.front());
    node.inbox.pop_front();
    if (input.dead != raft::kNoNode) {
      const bool campaigns = node.core->peer_down(input.dead, input.delay_ticks);
      trace("death signal: node ", node.id, " hears node ", input.dead, " died",
            campaigns ? ", its leader: pre-election in " + std::to_string(input.delay_ticks) + " ticks" : "");
    } else if (input.is_tick) {
      node.core->tick();
    } else {
      const raft::Decoded<raft::Message> decoded = raft::decode_message(input.bytes, node.scratch);
      if (!decoded) {
        throw std::logic_error(std::string("a message the codec encoded does not decode: ") +
                               raft::to_string(decoded.error));
      }
      if (trace_messages_) {
        trace("deliver: ", message_name(decoded.value), " ", raft::message_from(decoded.value), "->", node.id,
              " term ", raft::message_term(decoded.value));
      }
      node.core->step(decoded.value);
    }
    observe(node);
  }
}

class ClusterSim::NodeHost final : public raft::ReadyHost {
 public:
  NodeHost(ClusterSim& sim, SimNode& node) : sim_(sim), node_(node) {}
  void on_soft_state(const raft::SoftState& soft) override { sim_.on_role(node_, soft); }
  void send(const raft::Message& message) override { sim_.network_.send(message, sim_.now_, sim_.rng_); }
  void send_after_persist(const raft::Message& message) override {
    node_.note_sent(message);
    if (!sim_.profile_.send_before_persist) send(message);  // else begin_ready sent it already
  }
  void persist(const raft::Ready& ready) override {
    if (ready.snapshot) node_.note_log_replaced_from(ready.snapshot->meta.index + 1);
    if (!ready.entries.empty()) node_.note_log_replaced_from(ready.entries.front().index);
    node_.storage.persist(ready);
  }
  void restore(const raft::Snapshot& snapshot) override { sim_.restore_snapshot(node_, snapshot); }
  void apply(std::span<const raft::Entry> entries) override {
    sim_.checker_.observe_commit(node_.id, node_.core->term(), node_.core->commit_index(),
                                 CoreLogReader(node_.core->log()));
    for (const raft::Entry& entry : entries) sim_.apply_entry(node_, entry);
  }
  void serve_reads(std::span<const raft::ReadState> reads) override {
    sim_.serve_reads(node_);
    for (const raft::ReadState& read : reads) sim_.check_read_answer(node_, read);
  }

 private:
  ClusterSim& sim_;
  SimNode& node_;
};

void ClusterSim::on_role(SimNode& node, const raft::SoftState& soft) {
  if (soft.role != node.soft.role) {
    trace("role: node ", node.id, " ", raft::to_string(soft.role), " term ", node.core->term());
    const bool chaos = now_ < uint64_t{profile_.chaos_ticks} * profile_.steps_per_tick;
    if (chaos && soft.role == raft::Role::kLeader && rng_.chance(profile_.doom_new_leader)) {
      node.crash_at_step = now_ + rng_.below(profile_.doom_window_steps + 1);
    }
  }
  node.soft = soft;
}

void ClusterSim::begin_ready(SimNode& node) {
  NodeHost host(*this, node);
  const raft::Ready& ready = node.ready_handler.begin(*node.core, host);
  node.ready = &ready;
  if (profile_.send_before_persist) {
    for (const raft::Message& message : ready.messages_after_persist) network_.send(message, now_, rng_);
  }
  if (!ready.entries.empty()) {
    checker_.observe_log_write(node.id, ready.entries.front().index, CoreLogReader(node.core->log()));
  }
  observe(node);
  if (ready.must_persist() && profile_.max_persist_delay_steps > 0) {
    const uint64_t delay = rng_.below(profile_.max_persist_delay_steps + 1);
    if (delay > 0) {
      node.persist_done_step = now_ + delay;
      return;
    }
  }
  finish_ready(node);
}

void ClusterSim::finish_ready(SimNode& node) {
  node.persist_done_step.reset();
  NodeHost host(*this, node);
  node.ready_handler.finish(*node.core, host);
  node.ready = nullptr;
  // A leader counts its own persisted log towards commitment (dissertation §10.2.1): a promise too.
  if (node.core->role() == raft::Role::kLeader)
    node.acknowledged_through = std::max(node.acknowledged_through, node.core->log().persisted());
  observe(node);
}

void ClusterSim::restore_snapshot(SimNode& node, const raft::Snapshot& snapshot) {
  ++stats_.snapshots_installed;
  node.applied = snapshot.meta.index;
  node.state_hash = snapshot_hash(snapshot.data);
  checker_.observe_snapshot_restore(node.id, node.applied, node.state_hash);
  node.proposals.erase(node.proposals.begin(), node.proposals.upper_bound(node.applied));
  trace("snapshot: node ", node.id, " installed entries 1..", node.applied);
}

void ClusterSim::check_read_answer(SimNode& node, const raft::ReadState& read) {
  auto started = node.reads.find(read.context);
  if (started != node.reads.end()) {  // else begun by an earlier incarnation of this node
    if (read.index < started->second) {
      checker_.fail(Invariant::kStaleRead,
                    "node " + std::to_string(node.id) + " answered read " + std::to_string(read.context) +
                        " at index " + std::to_string(read.index) + ", but index " +
                        std::to_string(started->second) + " was acknowledged before the read began");
    }
    node.reads.erase(started);
    node.answered_reads.push_back(read);
  }
  serve_reads(node);
}

void ClusterSim::serve_reads(SimNode& node) {
  std::erase_if(node.answered_reads, [&](const raft::ReadState& read) {
    if (read.index > node.applied) return false;
    ++stats_.reads_answered;
    trace("read: node ", node.id, " context ", read.context, " served at index ", read.index);
    return true;
  });
}

void ClusterSim::apply_entry(SimNode& node, const raft::Entry& entry) {
  const std::string_view data = as_chars(entry.data);
  checker_.observe_apply(node.id, entry.index, EntryView{entry.term, data});
  node.applied = entry.index;
  node.state_hash = chain_state_hash(node.state_hash, entry.index, entry.term, data);
  for (auto it = node.proposals.begin(); it != node.proposals.end() && it->first <= entry.index;) {
    const SimNode::Proposal& proposal = it->second;
    if (it->first == entry.index && proposal.term == entry.term && proposal.token == data) {
      Acknowledged ack{entry.index, entry.term, proposal.token};
      trace("ack: ", ack.token, " at ", ack.index, " term ", ack.term, " by node ", node.id);
      max_acknowledged_index_ = std::max(max_acknowledged_index_, ack.index);
      ++stats_.acknowledged;
      if (final_token_ && ack.token == *final_token_) final_ack_ = ack;
      acknowledged_.push_back(std::move(ack));
    }
    it = node.proposals.erase(it);  // applied, or overwritten by another entry: either way settled
  }
}

void ClusterSim::observe(SimNode& node) {
  if (!node.core) return;
  const raft::Core& core = *node.core;
  const CoreLogReader log(core.log());
  if (core.role() == raft::Role::kLeader) checker_.observe_leader(node.id, core.term(), log);
  checker_.observe_commit(node.id, core.term(), core.commit_index(), log);
  if (core.conf_state() != node.conf) {
    node.conf = core.conf_state();
    trace("configuration: node ", node.id, " has voters ", node.conf.voters.bits(), " learners ",
          node.conf.learners.bits(), " repairing ", node.conf.repairing, " (as bit sets; log ends at ",
          core.log().last_index(), ", commit ", core.commit_index(), ")");
  }
}

std::optional<raft::NodeId> ClusterSim::agreed_leader() const {
  for (const auto& leader : nodes_) {
    if (!leader || !leader->core || leader->core->role() != raft::Role::kLeader) continue;
    // Known to a majority of its configuration's voters (a leader that removed itself is on its way out).
    const raft::NodeSet voters = leader->core->conf_state().voters;
    if (!voters.contains(leader->id)) continue;
    size_t followers = 0;
    for (const auto& node : nodes_) {
      if (node && node->core && voters.contains(node->id) && node->core->term() == leader->core->term() &&
          node->core->leader() == leader->id) {
        ++followers;
      }
    }
    if (followers >= voters.size() / 2 + 1) return leader->id;
  }
  return std::nullopt;
}

bool ClusterSim::run_healed_tick(uint64_t since_heal) {
  if (since_heal == 0) {
    network_.heal();
    network_.make_reliable();
    for (auto& node : nodes_) {
      if (!node) continue;
      node->crash_at_step.reset();  // doomed during the chaos, reprieved by the heal
      if (!node->core) restart(*node);
    }
    trace("heal: every link up, no more loss, every node up; now a leader within ",
          profile_.leader_bound_ticks, " ticks and convergence within ", profile_.converge_bound_ticks,
          " more");
  }
  const std::optional<raft::NodeId> leader = agreed_leader();
  if (leader && !leader_after_heal_) {
    leader_after_heal_ = since_heal;
    stats_.ticks_to_leader_after_heal = since_heal;
    trace("healed: node ", *leader, " leads term ", nodes_[*leader]->core->term());
  }
  if (!leader_after_heal_) {
    if (since_heal >= profile_.leader_bound_ticks) {
      checker_.fail(Invariant::kLiveness, "no leader known to a majority " + std::to_string(since_heal) +
                                              " ticks after healing: " + cluster_state());
    }
    return false;
  }
  if (final_ack_) {
    if (!leader) return false;  // (converged is judged by the members of the leader's configuration)
    // Every member of the configuration (nodes outside it get nothing more).
    const raft::ConfState members = nodes_[*leader]->core->conf_state();
    const bool all_applied = std::all_of(nodes_.begin() + 1, nodes_.end(), [&](const auto& node) {
      return !members.is_member(node->id) || (node->core && node->applied >= final_ack_->index);
    });
    if (all_applied) {
      stats_.ticks_to_converge_after_heal = since_heal;
      trace("converged: every node applied ", final_ack_->token, " at ", final_ack_->index);
      return true;
    }
  } else if (leader && nodes_[*leader]->idle()) {
    // A fresh write through the healed cluster; re-proposed if a leader change lost the previous one.
    SimNode& node = *nodes_[*leader];
    const bool pending = std::any_of(node.proposals.begin(), node.proposals.end(), [&](const auto& p) {
      return final_token_ && p.second.token == *final_token_;
    });
    if (!pending) {
      final_token_ = "final" + std::to_string(next_token_++);
      propose(node, *final_token_);
    }
  }
  if (since_heal >= profile_.leader_bound_ticks + profile_.converge_bound_ticks) {
    checker_.fail(Invariant::kLiveness,
                  "a leader was found " + std::to_string(*leader_after_heal_) +
                      " ticks after healing, but a fresh write did not reach every node by tick " +
                      std::to_string(since_heal) + ": " + cluster_state());
  }
  return false;
}

void ClusterSim::check_acknowledged_writes() {
  for (const Acknowledged& ack : acknowledged_) {
    const std::optional<EntryView> committed = checker_.committed_entry(ack.index);
    if (!committed || committed->term != ack.term || committed->data != ack.token) {
      checker_.fail(Invariant::kAcknowledgedWriteLost,
                    "write " + ack.token + " was acknowledged at index " + std::to_string(ack.index) +
                        " term " + std::to_string(ack.term) + ", but the cluster converged with " +
                        (committed ? "(term " + std::to_string(committed->term) + ", \"" +
                                         std::string(committed->data) + "\")"
                                   : std::string("nothing committed")) +
                        " there");
      return;
    }
  }
}

std::string ClusterSim::cluster_state() const {
  std::ostringstream out;
  for (const auto& node : nodes_) {
    if (!node) continue;
    out << "\n  node " << node->id << ": ";
    if (!node->core) {
      out << "down";
      continue;
    }
    const raft::Core& core = *node->core;
    out << raft::to_string(core.role()) << " term " << core.term() << " vote " << core.vote() << " leader "
        << core.leader() << " log [" << core.log().first_index() << ", " << core.log().last_index()
        << "] commit " << core.commit_index() << " applied " << node->applied
        << (node->ready ? " (persisting)" : "");
    const raft::ConfState& conf = core.conf_state();
    if (conf.voters.bits() != 0 || conf.learners.bits() != 0) {
      out << " voters " << conf.voters.bits() << " learners " << conf.learners.bits();
      if (conf.repairing != raft::kNoNode) out << " repairing " << conf.repairing;
    }
    if (core.lost() != 0) out << " LOST";
  }
  return out.str();
}

}  // namespace shmraft::sim
