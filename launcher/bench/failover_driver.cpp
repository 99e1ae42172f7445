#include "launcher/bench/failover_driver.h"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <thread>
#include <vector>

#include "ipc/clock.h"
#include "launcher/child_process.h"
#include "launcher/launcher_error.h"
#include "launcher/membership.h"
#include "launcher/status_table.h"
#include "node/process/node_counters.h"
#include "node/raft/conf_state.h"

namespace shmraft::bench {

namespace {

using launcher::NodeStatus;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kAcknowledgedTimeoutNs = 30'000 * kMs;  // signal -> a write acknowledged after it
constexpr uint64_t kCatchUpTimeoutNs = 60'000 * kMs;       // generous: a restarted node replays its log
// A follower's loss elects no one, so nothing waits for its detection: give the nodes this long to
// notice before the victim comes back (an election timeout is 150-300 ms).
constexpr uint64_t kFollowerDetectWaitNs = 500 * kMs;
constexpr uint32_t kWatchMs = 1;   // how often the stamps are read while an event runs (they are exact)
constexpr uint32_t kStatusMs = 5;  // how often the status is read while waiting for a catch-up

// Ends a restart's CPU isolation when the wait for its start ends, however it ends.
class StartIsolationEnd {
 public:
  explicit StartIsolationEnd(BenchCluster& cluster) : cluster_(cluster) {}
  StartIsolationEnd(const StartIsolationEnd&) = delete;
  StartIsolationEnd& operator=(const StartIsolationEnd&) = delete;
  ~StartIsolationEnd() { cluster_.end_start_isolation(); }

 private:
  BenchCluster& cluster_;
};

const NodeStatus* leader_of(const std::vector<NodeStatus>& nodes) {
  const NodeStatus* leader = nullptr;
  for (const NodeStatus& s : nodes)
    if (launcher::is_leader(s) && (!leader || s.counters.term > leader->counters.term)) leader = &s;
  return leader;
}

const NodeStatus* with_pid(const std::vector<NodeStatus>& nodes, pid_t pid) {
  for (const NodeStatus& s : nodes)
    if (s.pid == pid) return &s;
  return nullptr;
}

// The victim of event `number`: the leader, or the followers in turn.
const NodeStatus& victim_of(const std::vector<NodeStatus>& nodes, const NodeStatus& leader,
                            const std::string& role, uint32_t number) {
  if (role == "leader") return leader;
  std::vector<const NodeStatus*> followers;
  for (const NodeStatus& s : nodes)
    if (s.alive && s.pid != leader.pid) followers.push_back(&s);
  if (followers.empty()) throw launcher::LauncherError("fail-over: no live follower to signal");
  return *followers[(number - 1) % followers.size()];
}

// The earliest stamp after the signal, per kind, seen over the nodes that survive the event.
struct Reactions {
  std::optional<uint64_t> death_taken, stall_taken, campaign, leader_since;
  std::optional<uint64_t> new_leader;
  std::optional<uint64_t> elected_before;  // a survivor elected_before_signal()

  static void keep_earliest(std::optional<uint64_t>& earliest, uint64_t stamp, uint64_t signal_ns) {
    if (stamp > signal_ns && (!earliest || stamp < *earliest)) earliest = stamp;
  }
  void note(uint32_t node, const ipc::NodeCountersSnapshot& counters, uint64_t signal_ns,
            uint64_t victim_term) {
    if (elected_before_signal(counters, victim_term, signal_ns)) elected_before = node;
    keep_earliest(death_taken, counters.death_taken_ns, signal_ns);
    keep_earliest(stall_taken, counters.stall_taken_ns, signal_ns);
    keep_earliest(campaign, counters.campaign_ns, signal_ns);
    const std::optional<uint64_t> before = leader_since;
    keep_earliest(leader_since, counters.leader_since_ns, signal_ns);
    if (leader_since != before) new_leader = node;
  }
};

std::string status_table(ipc::Segment& segment) {
  return launcher::render_status_table(launcher::read_status(segment), launcher::TableWidth::wide);
}

// The leader's configuration: who must be running and caught up (a node removed by `--reconfigure add`
// is stopped, and still listed by the status).
bool is_member(const NodeStatus& leader, uint32_t node) {
  return raft::NodeSet::from_bits(leader.counters.voters | leader.counters.learners).contains(node);
}

// A slow operation as the report has it: its begin from the signal, and the time between each of its
// stamps and the next. A stamp earlier than the one before it (clocks of two processes, some read once
// per loop iteration) is taken as that one, a phase of 0, so the parts still add up to the total.
FailoverSlowOp slow_op_of(const FailoverTap::SlowOp& op, uint64_t signal_ns) {
  const client::Phases& p = op.phases;
  std::array<uint64_t, 7> at{op.began_ns, p.client_send_ns, p.leader_receive_ns, p.leader_persist_ns,
                             p.commit_ns, p.apply_ns,       p.client_receive_ns};
  for (std::size_t i = 1; i < at.size(); ++i) at[i] = std::max(at[i], at[i - 1]);
  return FailoverSlowOp{static_cast<int64_t>(op.began_ns) - static_cast<int64_t>(signal_ns),
                        at[6] - at[0],
                        op.attempts,
                        at[1] - at[0],
                        at[2] - at[1],
                        at[3] - at[2],
                        at[4] - at[3],
                        at[5] - at[4],
                        at[6] - at[5]};
}

}  // namespace

bool elected_before_signal(const ipc::NodeCountersSnapshot& survivor, uint64_t victim_term,
                           uint64_t signal_ns) {
  return survivor.role == node::kRoleLeader && survivor.term > victim_term && survivor.leader_since_ns != 0 &&
         survivor.leader_since_ns <= signal_ns;
}

FailoverDriver::FailoverDriver(const FailoverSpec& spec, const BenchConfig& config, BenchCluster& cluster,
                               StopFlag& stop, std::string line_prefix)
    : spec_(spec),
      config_(config),
      cluster_(cluster),
      stop_(stop),
      line_prefix_(std::move(line_prefix)),
      tap_(config.clients, config.pipeline, spec.slow_ops_us * 1000) {
  result_.signal = spec.cause();
  result_.slow_op_threshold_ns = spec.slow_ops_us * 1000;
  if (spec.signal == "kill" && !spec.reconfigures()) result_.restart_cpu = spec.restart_cpu;
  result_.victim = spec.reconfigures() ? (spec.change == "add" ? "learner" : "follower") : spec.victim;
  result_.events_asked = spec.events();
  // An admin client holds a client slot of its own (bench_run sizes the segment for it).
  if (spec.reconfigures())
    admin_.emplace(std::make_shared<ipc::Segment>(ipc::Segment::attach(cluster.name())),
                   client_transport(config));
}

void FailoverDriver::run() noexcept {
  try {
    for (uint32_t number = 1; number <= spec_.events(); ++number) {
      std::optional<FailoverEvent> event = run_event(number);
      if (!event) return;  // stopped
      result_.events.push_back(std::move(*event));
      const auto print_event = [&] {
        fmt::print(stderr, "{}{}\n", line_prefix_, event_line(result_.events.back(), result_));
        for (const std::string& line : slow_op_lines(result_.events.back()))
          fmt::print(stderr, "{}{}\n", line_prefix_, line);
      };
      bool controlled = false;
      try {
        controlled = run_control(result_.events.back());
      } catch (...) {
        print_event();  // measured, though its control was not
        throw;
      }
      print_event();
      if (!controlled) return;  // stopped
    }
    if (!stop_.requested()) {
      ended_the_load_ = true;
      stop_.request();
    }
  } catch (...) {
    error_ = std::current_exception();
    stop_.request();
  }
}

bool FailoverDriver::pause(uint32_t ms) const {
  if (stop_.requested()) return false;
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return !stop_.requested();
}

bool FailoverDriver::wait_until_started(uint32_t node, pid_t pid) {
  ipc::NodeCounters& counters = cluster_.segment().node_counters(node);
  const uint64_t deadline = ipc::monotonic_ns() + kCatchUpTimeoutNs;
  while (counters.pid.load(std::memory_order_relaxed) != static_cast<uint64_t>(pid)) {
    if (ipc::monotonic_ns() > deadline)
      throw launcher::LauncherError(fmt::format("fail-over: node {} (pid {}) did not start within {} s", node,
                                                pid, kCatchUpTimeoutNs / 1'000'000'000));
    if (launcher::has_exited(pid))
      throw launcher::LauncherError(
          fmt::format("fail-over: node {} (pid {}) exited before it had recovered its files", node, pid));
    if (stop_.requested()) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return true;
}

bool FailoverDriver::wait_until_caught_up(uint64_t settle_acks) {
  ipc::Segment& segment = cluster_.segment();
  const uint64_t deadline = ipc::monotonic_ns() + kCatchUpTimeoutNs;
  std::optional<uint64_t> target;            // the leader's commit index when the wait began
  std::optional<uint64_t> acks_at_catch_up;  // writes acknowledged when the nodes had caught up
  for (;;) {
    const std::vector<NodeStatus> nodes = launcher::read_status(segment);
    const NodeStatus* leader = leader_of(nodes);
    if (leader != nullptr && !target) target = leader->counters.commit_index;
    const bool caught_up =
        leader != nullptr && std::all_of(nodes.begin(), nodes.end(), [&](const NodeStatus& s) {
          return !is_member(*leader, s.node) ||
                 (s.alive && s.counters.term == leader->counters.term &&
                  s.counters.leader == leader->counters.leader && s.counters.applied_index >= *target);
        });
    if (caught_up) {
      if (!acks_at_catch_up) acks_at_catch_up = tap_.acknowledged();
      if (tap_.acknowledged() - *acks_at_catch_up >= settle_acks) return true;
    }
    if (ipc::monotonic_ns() > deadline)
      throw launcher::LauncherError(fmt::format("fail-over: the cluster did not catch up within {} s:\n{}",
                                                kCatchUpTimeoutNs / 1'000'000'000, status_table(segment)));
    if (!pause(kStatusMs)) return false;
  }
}

uint64_t FailoverDriver::settle_acks() const {
  return std::max<uint64_t>(100, 4 * uint64_t{config_.clients} * config_.pipeline);
}

bool FailoverDriver::run_control(FailoverEvent& e) {
  if (!wait_until_caught_up(settle_acks())) return false;
  const uint32_t window = ++windows_;
  const uint64_t start = ipc::monotonic_ns();
  tap_.arm(window, start);
  // This thread reads the status as it does for most of an event (waiting for the catch-up), so that
  // the control bears the benchmark's own share of the work too.
  const uint64_t end = start + e.recovered_ns;
  for (uint64_t now = start; now < end; now = ipc::monotonic_ns()) {
    (void)launcher::read_status(cluster_.segment());
    const uint64_t after_read = std::min(end, ipc::monotonic_ns());
    std::this_thread::sleep_for(
        std::chrono::nanoseconds(std::min(end - after_read, uint64_t{kStatusMs} * kMs)));
    if (stop_.requested()) {
      tap_.disarm();
      return false;
    }
  }
  e.control_worst_op_ns = tap_.event_ops(window).worst_ns;
  tap_.disarm();
  return true;
}

std::optional<FailoverEvent> FailoverDriver::run_event(uint32_t number) {
  ipc::Segment& segment = cluster_.segment();
  if (!wait_until_caught_up(settle_acks())) return std::nullopt;
  const std::vector<NodeStatus> before = launcher::read_status(segment);
  const NodeStatus* leader = leader_of(before);
  if (leader == nullptr) return run_event(number);  // it changed since the wait: wait again

  FailoverEvent e;
  e.number = number;
  const uint32_t window = ++windows_;
  std::optional<uint64_t> signal_ns;
  bool leadership_moves = false;
  std::optional<uint64_t> elected_before;
  if (spec_.change == "add") {
    signal_ns = add_and_promote(window, e);
  } else {
    const NodeStatus& victim =
        victim_of(before, *leader, spec_.reconfigures() ? "follower" : spec_.victim, number);
    e.victim_role = victim.pid == leader->pid ? "leader" : "follower";
    e.victim_node = victim.node;
    e.victim_pid = victim.pid;
    leadership_moves = spec_.change == "transfer" || victim.pid == leader->pid;
    signal_ns = ipc::monotonic_ns();
    tap_.arm(window, *signal_ns);
    if (spec_.change == "transfer") {
      ask(node::AdminOp::kTransfer, victim.node);
    } else {
      cluster_.signal_node(victim.pid, spec_.signal_number());
    }
    const WatchEnd end =
        watch_until_acknowledged({number, window, *signal_ns, leader->counters.term, leadership_moves}, e);
    if (end.stopped) return std::nullopt;
    elected_before = end.elected_before;
  }
  if (!signal_ns) return std::nullopt;
  e.signal_ns = *signal_ns;

  if (spec_.change == "add") {
    remove_joined(e.victim_node);
  } else if (spec_.signal == "kill" && !spec_.reconfigures()) {
    e.restarted_pid = cluster_.restart_node(e.victim_pid, spec_.restart_cpu == "isolated");
    e.restart_ns = ipc::monotonic_ns() - *signal_ns;
  } else if (!spec_.reconfigures()) {
    cluster_.signal_node(e.victim_pid, SIGCONT);
  }
  if (e.restarted_pid != 0) {
    // Its start's long system calls are over once it has recovered its files: the CPUs are shared again
    // for the catch-up (launcher/start_isolation.h), also when the wait ends otherwise.
    const StartIsolationEnd end_isolation{cluster_};
    if (!wait_until_started(static_cast<uint32_t>(e.victim_node), static_cast<pid_t>(e.restarted_pid)))
      return std::nullopt;
    e.started_ns = ipc::monotonic_ns() - *signal_ns;
  }
  if (!wait_until_caught_up(1)) return std::nullopt;
  e.recovered_ns = ipc::monotonic_ns() - *signal_ns;
  if (elected_before) {
    // The victim no longer led when it was signalled: nothing of a fail-over was measured. The cluster
    // is whole again; the event is run again, and counted.
    tap_.disarm();
    ++result_.voided_events;
    fmt::print(stderr,
               "{}{} {}/{}: voided: node {} was elected before the {} to node {} (an election the "
               "benchmark did not cause); run again\n",
               line_prefix_, result_.reconfigures() ? "reconfigure" : "failover", number,
               result_.events_asked, *elected_before, spec_.reconfigures() ? "transfer" : "signal",
               e.victim_node);
    return run_event(number);
  }
  const FailoverTap::EventOps ops = tap_.event_ops(window);
  const FailoverTap::SlowOps slow = tap_.slow_ops(window);
  tap_.disarm();
  for (const FailoverTap::SlowOp& op : slow.ops) e.slow_ops.push_back(slow_op_of(op, *signal_ns));
  e.slow_ops_dropped = slow.dropped;
  e.worst_op_ns = ops.worst_ns;
  if (ops.worst_ns != 0)
    e.worst_op_began_ns = static_cast<int64_t>(ops.worst_began_ns) - static_cast<int64_t>(*signal_ns);
  e.failed_ops = ops.failed;
  e.in_doubt_ops = ops.in_doubt;
  const std::vector<NodeStatus> after = launcher::read_status(segment);
  for (const NodeStatus& s : after) {
    const NodeStatus* then = with_pid(before, s.pid);
    if (then != nullptr && s.counters.elections >= then->counters.elections)
      e.elections += s.counters.elections - then->counters.elections;
  }
  if (const NodeStatus* now_leading = leader_of(after))
    e.terms = now_leading->counters.term - leader->counters.term;
  return e;
}

FailoverDriver::WatchEnd FailoverDriver::watch_until_acknowledged(const Watched& w, FailoverEvent& e) {
  ipc::Segment& segment = cluster_.segment();
  const uint64_t signal_ns = w.signal_ns;
  const bool leadership_moves = w.leadership_moves;
  Reactions seen;
  for (;;) {
    const uint64_t now = ipc::monotonic_ns();
    // The counters alone, not read_status(): its liveness check opens /proc files of every node, which
    // took the survivors' CPUs each millisecond of the window (a perf sched trace at 5 nodes × 16
    // clients: this thread ran ~240 µs inside windows of ~0.7 ms on the 2 CPUs).
    for (const uint32_t node : launcher::nodes_in_use(segment)) {
      const ipc::NodeCountersSnapshot counters = segment.node_counters(node).snapshot();
      if (static_cast<pid_t>(counters.pid) != e.victim_pid || spec_.reconfigures())
        seen.note(node, counters, signal_ns, w.victim_term);
    }
    if (leadership_moves && seen.elected_before) return WatchEnd{false, seen.elected_before};
    // The new leader's writes are those it committed after it became leader; a follower's loss leaves
    // the leader in place, so any write committed after the signal counts.
    const std::optional<uint64_t> from = leadership_moves ? seen.leader_since : signal_ns;
    const std::optional<uint64_t> first = from ? tap_.first_acknowledged(w.window, *from) : std::nullopt;
    const bool detected = seen.death_taken || seen.stall_taken || seen.campaign;
    if (first && (leadership_moves || detected || now - signal_ns > kFollowerDetectWaitNs)) {
      e.window_ns = *first - signal_ns;
      break;
    }
    if (now - signal_ns > kAcknowledgedTimeoutNs)
      throw launcher::LauncherError(
          fmt::format("{} {}: no write acknowledged by a new leader within {} s of the {} to node {}:\n{}",
                      spec_.reconfigures() ? "reconfiguration" : "fail-over", w.number,
                      kAcknowledgedTimeoutNs / 1'000'000'000, spec_.reconfigures() ? "transfer" : "signal",
                      e.victim_node, status_table(segment)));
    if (!pause(kWatchMs)) return WatchEnd{true, std::nullopt};
  }
  // What the survivors acted on first: the kernel's word of a death, the leader's progress counter
  // standing still (--stall-us), or, neither before the first campaign, their election timeout. A
  // transfer is acted on by its target, which campaigns at once: nothing is detected.
  if (!spec_.reconfigures()) {
    for (const auto& [at, cause] :
         {std::pair{seen.death_taken, "death signal"}, std::pair{seen.stall_taken, "progress stall"},
          std::pair{seen.campaign, "election timeout"}}) {
      if (at && (!e.detect_ns || *at - signal_ns < *e.detect_ns)) {
        e.detect_ns = *at - signal_ns;
        e.detected_by = cause;
      }
    }
  }
  if (seen.leader_since) e.elect_ns = *seen.leader_since - signal_ns;
  e.new_leader = seen.new_leader;
  return WatchEnd{};
}

client::AdminOutcome FailoverDriver::ask(node::AdminOp op, uint32_t node) {
  const auto give_up = ipc::monotonic_ns() + kAcknowledgedTimeoutNs;
  for (;;) {
    const auto left = std::chrono::nanoseconds(give_up - std::min(give_up, ipc::monotonic_ns()));
    client::AdminOutcome outcome;
    try {
      outcome = admin_->request(op, node, std::chrono::duration_cast<std::chrono::milliseconds>(left));
    } catch (const client::AdminTimeout& timeout) {
      throw launcher::LauncherError(
          fmt::format("reconfiguration: {}\n{}", timeout.what(), status_table(cluster_.segment())));
    }
    // The leader is still committing the previous change (or its first entry), or the learner is still
    // catching up: ask again.
    const bool again = outcome.status == raft::Status::kConfChangePending ||
                       outcome.status == raft::Status::kLearnerBehind ||
                       outcome.status == raft::Status::kTransferInProgress;
    if (!again || ipc::monotonic_ns() > give_up) {
      const bool done_unseen = outcome.after_doubt && (outcome.status == raft::Status::kAlreadyMember ||
                                                       outcome.status == raft::Status::kNotLearner ||
                                                       outcome.status == raft::Status::kNotMember);
      if (outcome.status != raft::Status::kOk && !done_unseen)
        throw launcher::LauncherError(fmt::format("reconfiguration: the leader refused: {}",
                                                  launcher::describe_refusal(outcome.status, node)));
      return outcome;
    }
    if (!pause(1)) return outcome;
  }
}

std::optional<uint64_t> FailoverDriver::add_and_promote(uint32_t window, FailoverEvent& e) {
  const uint32_t joining = cluster_.segment().node_count() + 1;
  e.victim_role = "learner";
  e.victim_node = joining;
  const uint64_t signal_ns = ipc::monotonic_ns();
  tap_.arm(window, signal_ns);
  e.victim_pid = cluster_.start_joining_node(joining);
  ask(node::AdminOp::kAddLearner, joining);
  e.learner_ns = ipc::monotonic_ns() - signal_ns;
  ask(node::AdminOp::kPromote, joining);
  // The leader answers once the promotion is applied: the new voter counts towards every commit after.
  e.window_ns = ipc::monotonic_ns() - signal_ns;
  return stop_.requested() ? std::nullopt : std::optional(signal_ns);
}

void FailoverDriver::remove_joined(uint32_t node) {
  ask(node::AdminOp::kRemove, node);
  cluster_.stop_node(node);
}

FailoverResult FailoverDriver::finish() {
  if (error_) std::rethrow_exception(error_);
  if (ended_the_load_) stop_.clear();
  result_.interrupted = !ended_the_load_;
  result_.acknowledged_ops = tap_.acknowledged();
  result_.failed_ops = tap_.failed();
  result_.in_doubt_ops = tap_.in_doubt();
  const Histogram quiet = tap_.quiet();
  result_.quiet_ops = quiet.count();
  if (!quiet.empty()) {
    result_.quiet_p50_ns = quiet.value_at_percentile(50);
    result_.quiet_p99_ns = quiet.value_at_percentile(99);
    result_.quiet_p999_ns = quiet.value_at_percentile(99.9);
    result_.quiet_max_ns = quiet.max();
  }
  if (!result_.interrupted) {
    const FailoverTap::ReadBack read = tap_.read_back(cluster_.name(), client_transport(config_));
    result_.checked = true;
    result_.keys_checked = read.keys;
    result_.lost_ops = read.lost;
  }
  return result_;
}

}  // namespace shmraft::bench
