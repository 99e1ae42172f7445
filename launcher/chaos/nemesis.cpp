#include "launcher/chaos/nemesis.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <vector>

#include "launcher/network_faults.h"
#include "launcher/status_table.h"

namespace shmraft::launcher {

using std::chrono::milliseconds;

namespace {
constexpr milliseconds kLeaveGrace{2000};  // a node that left the configuration: SIGTERM, then SIGKILL
}  // namespace

Nemesis::Nemesis(const NemesisOptions& options, uint64_t seed, ipc::Segment& segment, Supervisor& supervisor,
                 const ClusterDirs& dirs, std::ostream& log)
    : options_(options),
      rng_(seed),
      segment_(segment),
      supervisor_(supervisor),
      dirs_(dirs),
      log_(log),
      repairs_(segment, options.repair_bound, [this](uint32_t node) { return lost_lines(node); }) {
  for (uint32_t node = 1; node <= segment.node_count(); ++node) members_.insert(node);
  last_voters_ = members_;
}

std::vector<uint32_t> Nemesis::running_members() const {
  std::vector<uint32_t> running = supervisor_.running_nodes();
  std::erase_if(running, [this](uint32_t node) { return !members_.contains(node); });
  return running;
}

void Nemesis::join(uint32_t node) {
  members_.insert(node);
  if (supervisor_.running(node)) return;
  dirs_.stamp_node(node, segment_.cluster_id());
  supervisor_.start(node);
}

void Nemesis::leave(uint32_t node) {
  members_.erase(node);
  restarts_.erase(node);
  supervisor_.stop(node, kLeaveGrace);
  if (repairs_.forget(node))
    note(fmt::format("node {} left the configuration during its repair: its damaged files are not judged",
                     node));
}

uint32_t Nemesis::voter_count() {
  if (const auto current = current_leader(segment_)) {
    const raft::NodeSet voters =
        raft::NodeSet::from_bits(segment_.node_counters(current->node).snapshot().voters);
    if (!voters.empty()) last_voters_ = voters;
  }
  return static_cast<uint32_t>(raft::NodeSet::from_bits(last_voters_.bits() & ~removals_sent_.bits()).size());
}

bool Nemesis::repairing(uint32_t node) const {
  return repairs_.watching(node) || segment_.node_counters(node).snapshot().lost != 0;
}

void Nemesis::follow(raft::NodeSet configuration, const std::string& why) {
  for (const uint32_t node : configuration.ids()) {
    removals_sent_.erase(node);  // the leader's log holds no removal of it
    if (members_.contains(node)) continue;
    join(node);
    note(fmt::format("node {} is a member ({}): started (pid {})", node, why, supervisor_.pid(node)));
  }
  for (const uint32_t node : members_.ids()) {
    if (configuration.contains(node)) continue;
    // Taking one out for its repair would only cost time (it comes back as a learner, and is followed
    // and judged again); keeping a removed one would fail the judge, which waits for it to come back.
    if (repairing(node) && !removals_sent_.contains(node)) continue;
    leave(node);
    note(fmt::format("node {} is no member ({}): stopped{}", node, why,
                     removals_sent_.contains(node) ? " (its removal was sent)" : ""));
  }
}

void Nemesis::follow_leader() {
  const auto current = current_leader(segment_);
  if (!current) return;
  const ipc::NodeCountersSnapshot c = segment_.node_counters(current->node).snapshot();
  const raft::NodeSet configuration = raft::NodeSet::from_bits(c.voters | c.learners);
  if (!configuration.empty())
    follow(configuration, fmt::format("in leader {}'s configuration", current->node));
}

// The node's own word that it started lost (node.cpp: "storage: lost state"), counted in its log.
std::size_t Nemesis::lost_lines(uint32_t node) const {
  std::ifstream log(dirs_.node_dir(node) / "node.log");
  std::size_t count = 0;
  for (std::string line; std::getline(log, line);) {
    if (line.find("storage: lost state") != std::string::npos) ++count;
  }
  return count;
}

milliseconds Nemesis::jitter(milliseconds mean) {
  // Uniform in [mean/2, 3*mean/2): regular enough to count on, irregular enough to hit every phase.
  return milliseconds(std::uniform_int_distribution<int64_t>(mean.count() / 2, mean.count() * 3 / 2)(rng_));
}

void Nemesis::note(const std::string& what) {
  const double t = std::chrono::duration<double>(Clock::now() - began_).count();
  log_ << fmt::format("[{:7.3f}s] {}\n", t, what) << std::flush;
}

std::optional<uint32_t> Nemesis::leader() {
  const auto info = current_leader(segment_);
  if (!info) return std::nullopt;
  return info->node;
}

void Nemesis::note_unexpected_exit(uint32_t node, const ExitStatus& status) {
  const std::string what = fmt::format("node {} exited by itself ({})", node, status.describe());
  note(what);
  stats_.unexpected_exits.push_back(what);
}

void Nemesis::begin() {
  began_ = Clock::now();
  apply_links({});
  const auto now = Clock::now();
  if (options_.kill_interval.count() > 0) next_kill_ = now + jitter(options_.kill_interval);
  if (options_.partition_interval.count() > 0) next_partition_ = now + jitter(options_.partition_interval);
  if (options_.crash_all_interval.count() > 0) next_crash_all_ = now + jitter(options_.crash_all_interval);
}

// Links across the cut are disconnected; every other link keeps the run's standing faults (drop rate,
// and a delay drawn per link).
void Nemesis::apply_links(const std::set<uint32_t>& group) {
  ipc::FaultSettings standing;
  standing.drop_rate = options_.drop_rate;
  const uint32_t n = segment_.max_nodes();  // every slot: nodes join and leave while the cut stands
  for (uint32_t from = 1; from <= n; ++from) {
    for (uint32_t to = 1; to <= n; ++to) {
      if (from == to) continue;
      ipc::FaultSettings fault = standing;
      if (options_.max_delay.count() > 0) {
        fault.delay = std::chrono::microseconds(
            std::uniform_int_distribution<int64_t>(0, options_.max_delay.count())(rng_));
      }
      if (!group.empty() && group.contains(from) != group.contains(to))
        fault = ipc::FaultSettings{false, 0.0, {}};
      segment_.link_fault(from, to).set(fault);
    }
  }
}

void Nemesis::kill_one() {
  const auto n = static_cast<uint32_t>(members_.size());
  // Keep a majority up (a 1- or 2-node cluster: at most one down), so the clients can make progress;
  // whole-cluster crashes are crash_all's job. A node awaiting repair runs but votes on nothing: it
  // counts as down (else, with 3 members, one under repair and one killed left no quorum for seconds).
  const uint32_t max_down = std::max<uint32_t>(1, (n - 1) / 2);
  const std::vector<uint32_t> running = running_members();
  const auto intact = static_cast<uint32_t>(
      std::count_if(running.begin(), running.end(), [this](uint32_t node) { return !repairing(node); }));
  if (running.empty() || n - intact >= max_down) return;
  uint32_t victim = running[std::uniform_int_distribution<std::size_t>(0, running.size() - 1)(rng_)];
  const auto current = leader();
  bool is_leader = current && *current == victim;
  if (current && members_.contains(*current) && supervisor_.running(*current) &&
      std::bernoulli_distribution(options_.leader_bias)(rng_)) {
    victim = *current;
    is_leader = true;
  }
  const pid_t pid = supervisor_.pid(victim);
  supervisor_.kill(victim);
  ++stats_.kills;
  const auto down_for = milliseconds(std::uniform_int_distribution<int64_t>(
      options_.kill_interval.count() / 5, options_.kill_interval.count() * 3 / 5)(rng_));
  restarts_[victim] = Clock::now() + down_for;
  note(fmt::format("kill node {}{} (pid {}), back in {} ms", victim, is_leader ? " (leader)" : "", pid,
                   down_for.count()));
}

void Nemesis::crash_all() {
  const std::vector<uint32_t> running = supervisor_.running_nodes();
  for (uint32_t node : running) supervisor_.kill(node);
  ++stats_.crash_alls;
  stats_.kills += static_cast<uint32_t>(running.size());
  const auto back = Clock::now() + milliseconds(std::uniform_int_distribution<int64_t>(50, 500)(rng_));
  for (const uint32_t node : members_.ids()) restarts_[node] = back;
  note("crash: SIGKILL every node");
}

void Nemesis::change_partition() {
  if (partitioned_) {
    apply_links({});
    partitioned_ = false;
    ++stats_.heals;
    note("heal");
    return;
  }
  const auto n = static_cast<uint32_t>(members_.size());
  std::set<uint32_t> group;
  const auto current = leader();
  if (current && std::bernoulli_distribution(options_.leader_bias)(rng_)) {
    group.insert(*current);
  } else {
    // A random minority (for 2 nodes: one node). Its complement is the other side.
    const uint32_t size =
        std::uniform_int_distribution<uint32_t>(1, std::max<uint32_t>(1, (n - 1) / 2))(rng_);
    std::vector<uint32_t> all = members_.ids();
    std::shuffle(all.begin(), all.end(), rng_);
    group.insert(all.begin(), all.begin() + size);
  }
  apply_links(group);
  partitioned_ = true;
  ++stats_.partitions;
  std::string members;
  for (uint32_t node : group) members += fmt::format("{}{}", members.empty() ? "" : ",", node);
  note(fmt::format("partition {{{}}}{} from the rest", members,
                   current && group.size() == 1 && group.contains(*current) ? " (leader)" : ""));
}

void Nemesis::restart_due() {
  const auto now = Clock::now();
  for (auto it = restarts_.begin(); it != restarts_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    if (!supervisor_.running(it->first) && members_.contains(it->first)) {
      const pid_t pid = start_node(it->first, maybe_damage(it->first));
      note(fmt::format("restart node {} (pid {})", it->first, pid));
    }
    it = restarts_.erase(it);
  }
}

pid_t Nemesis::start_node(uint32_t node, std::optional<StorageFaultKind> damage) {
  // Its role as its last process saw it, before the new one overwrites the counters.
  const bool was_voter =
      raft::NodeSet::from_bits(segment_.node_counters(node).snapshot().voters).contains(node);
  const std::size_t lost_lines_before = damage ? lost_lines(node) : 0;
  const pid_t pid = supervisor_.start(node);
  ++stats_.restarts;
  if (damage) {
    repairs_.expect_lost(node, was_voter, pid, std::string(to_string(*damage)), lost_lines_before);
  } else {
    repairs_.restarted(node, pid);
  }
  return pid;
}

std::optional<StorageFaultKind> Nemesis::maybe_damage(uint32_t node) {
  // A minority of the voters at most, counting the nodes not repaired yet (learners too): the majority
  // must keep every committed entry intact, and a lost node votes on nothing.
  const uint32_t max_damaged = max_unrepaired(voter_count());
  if (options_.storage_faults.empty() || repairs_.unrepaired() >= max_damaged || repairs_.watching(node) ||
      !std::bernoulli_distribution(options_.storage_fault_chance)(rng_)) {
    return std::nullopt;
  }
  // Only a member is damaged: one its last process knew as a voter or a learner (a node started to join
  // and not yet added, or one that learned of its removal, is not; a node that never published is not
  // judged by a role).
  const ipc::NodeCountersSnapshot last = segment_.node_counters(node).snapshot();
  if (!raft::NodeSet::from_bits(last.voters | last.learners).contains(node)) return std::nullopt;
  const StorageFaultKind kind = options_.storage_faults[std::uniform_int_distribution<std::size_t>(
      0, options_.storage_faults.size() - 1)(rng_)];
  const std::optional<std::string> injected = inject_storage_fault(kind, dirs_.node_dir(node), rng_);
  if (!injected) {
    note(fmt::format("storage fault {} skipped on node {}: nothing there to damage", to_string(kind), node));
    return std::nullopt;
  }
  ++stats_.storage_faults;
  note(fmt::format("storage fault on node {}: {}", node, *injected));
  return kind;
}

void Nemesis::poll_repairs() {
  for (const uint32_t node : supervisor_.running_nodes()) {
    if (repairs_.watching(node)) continue;
    const ipc::NodeCountersSnapshot c = segment_.node_counters(node).snapshot();
    if (c.lost == 0 || static_cast<pid_t>(c.pid) != supervisor_.pid(node)) continue;
    repairs_.adopt_lost(node, raft::NodeSet::from_bits(c.voters).contains(node), supervisor_.pid(node));
    note(fmt::format("node {} reports lost (mark {}) with no damage injected at its restart", node, c.lost));
  }
  for (const std::string& line : repairs_.poll()) note(line);
}

Nemesis::Clock::time_point Nemesis::step() {
  const auto now = Clock::now();
  // Nodes that died on their own are restarted like killed ones — and reported, since nothing killed them.
  for (const auto& [node, status] : supervisor_.reap_exited()) {
    note_unexpected_exit(node, status);
    if (members_.contains(node)) restarts_.emplace(node, now);
  }
  restart_due();
  if (now >= next_crash_all_) {
    crash_all();
    next_crash_all_ = now + jitter(options_.crash_all_interval);
  }
  if (now >= next_kill_) {
    kill_one();
    next_kill_ = now + jitter(options_.kill_interval);
  }
  if (now >= next_partition_) {
    change_partition();
    // Partitions last about an interval; the healed phases between them are shorter.
    next_partition_ =
        now + jitter(partitioned_ ? options_.partition_interval : options_.partition_interval / 2);
  }
  poll_repairs();
  Clock::time_point next = std::min({next_kill_, next_partition_, next_crash_all_});
  for (const auto& [node, when] : restarts_) next = std::min(next, when);
  if (repairs_.awaiting_lost()) return std::min(next, now + milliseconds(1));
  if (repairs_.unrepaired() > 0) return std::min(next, now + milliseconds(20));
  return next;
}

void Nemesis::end() {
  if (partitioned_) ++stats_.heals;
  partitioned_ = false;
  for (const auto& [node, status] : supervisor_.reap_exited()) {
    note_unexpected_exit(node, status);
  }
  // Back to a healthy network: the standing drop rate ends too, so the cluster can catch up.
  heal_all(segment_);
  for (const uint32_t node : members_.ids()) {
    if (supervisor_.running(node)) continue;
    const pid_t pid = start_node(node, std::nullopt);
    note(fmt::format("restart node {} (pid {}) for the final check", node, pid));
  }
  restarts_.clear();
  note("healed every link; every member running");
}

}  // namespace shmraft::launcher
