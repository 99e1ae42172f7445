#include "launcher/chaos/chaos_run.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <iostream>
#include <random>
#include <thread>

#include "launcher/checker/linearizability.h"
#include "launcher/cluster_setup.h"
#include "launcher/launcher_error.h"
#include "launcher/node_launch.h"
#include "launcher/signal_watch.h"
#include "launcher/status_table.h"
#include "launcher/supervisor.h"
#include "node/process/node_process.h"
#include "node/raft/conf_state.h"

namespace shmraft::launcher {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kStopGrace{5000};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct CaughtUp {
  uint64_t index = 0;
  raft::NodeSet voters, learners;  // the leader's configuration
  raft::NodeSet members() const { return raft::NodeSet::from_bits(voters.bits() | learners.bits()); }
  friend bool operator==(const CaughtUp&, const CaughtUp&) = default;
};

// The commit index every member has applied, once the cluster is whole and quiet: a leader, and every
// member of its configuration alive, not lost, with its commit and applied index at the leader's last
// index. Without --membership that configuration must be the initial voters 1..N; a node that is no
// member (removed by the membership nemesis, and stopped) is not waited for.
std::optional<CaughtUp> caught_up(ipc::Segment& segment, bool membership) {
  const std::vector<NodeStatus> nodes = read_status(segment);
  const NodeStatus* leader = nullptr;
  for (const NodeStatus& s : nodes) {
    if (is_leader(s) && (leader == nullptr || s.counters.term > leader->counters.term)) leader = &s;
  }
  if (leader == nullptr || leader->counters.commit_index != leader->counters.last_index) return std::nullopt;
  CaughtUp result{leader->counters.commit_index, raft::NodeSet::from_bits(leader->counters.voters),
                  raft::NodeSet::from_bits(leader->counters.learners)};
  if (!membership && (result.voters.size() != segment.node_count() || !result.learners.empty()))
    return std::nullopt;
  std::size_t seen = 0;
  for (const NodeStatus& s : nodes) {
    if (!result.members().contains(s.node)) continue;
    ++seen;
    if (!s.alive || s.counters.commit_index != result.index || s.counters.applied_index != result.index ||
        s.counters.lost != 0)
      return std::nullopt;
  }
  if (seen != result.members().size()) return std::nullopt;  // a member that never ran
  return result;
}

void refuse_used_data(const ClusterDirs& dirs, uint32_t nodes) {
  for (uint32_t node = 1; node <= nodes; ++node) {  // every slot: with --membership any of them joins
    std::error_code ec;
    if (fs::exists(dirs.node_dir(node), ec)) {
      throw LauncherError("chaos needs fresh data directories, but " + dirs.node_dir(node).string() +
                          " exists (its writes are not in this run's history); `shmraft clean -c " +
                          dirs.cluster() + "` removes it");
    }
  }
}

struct Verdict {
  bool passed = true;
  std::vector<std::string> failures;
  void fail(std::string what) {
    passed = false;
    failures.push_back(std::move(what));
  }
};

}  // namespace

std::string chaos_replay_command(const ChaosOptions& o, uint64_t seed) {
  std::string command = fmt::format(
      "shmraft chaos --nodes {} --clients {} --keys {} --duration {} --seed {} --kill-interval {} "
      "--op-timeout {} "
      "--think {}",
      o.segment.node_count, o.workload.clients, o.workload.keys, o.duration_s, seed,
      o.nemesis.kill_interval.count(), o.workload.op_timeout.count(), o.workload.think.count());
  if (o.partitions)
    command += fmt::format(" --partitions --partition-interval {}", o.nemesis.partition_interval.count());
  if (o.nemesis.crash_all_interval.count() > 0)
    command += fmt::format(" --crash-all-interval {}", o.nemesis.crash_all_interval.count());
  if (o.nemesis.drop_rate > 0) command += fmt::format(" --unreliable {}", o.nemesis.drop_rate);
  if (o.nemesis.max_delay.count() > 0) command += fmt::format(" --max-delay {}", o.nemesis.max_delay.count());
  command += fmt::format(" --leader-bias {}", o.nemesis.leader_bias);
  if (!o.nemesis.storage_faults.empty()) {
    std::string kinds;
    for (const StorageFaultKind kind : o.nemesis.storage_faults)
      kinds += fmt::format("{}{}", kinds.empty() ? "" : ",", to_string(kind));
    command += fmt::format(" --storage-faults {} --storage-fault-chance {} --repair-timeout {}", kinds,
                           o.nemesis.storage_fault_chance, o.nemesis.repair_bound.count());
  }
  if (o.membership.interval.count() > 0) {
    command += fmt::format(" --max-nodes {} --membership --membership-interval {}",
                           o.segment.settled().max_nodes, o.membership.interval.count());
  }
  if (!o.node_args.empty()) {
    command += " --";
    for (const std::string& arg : o.node_args) command += " " + arg;
  }
  return command;
}

int run_chaos(ChaosOptions options) {
  const uint64_t seed =
      options.seed.value_or((uint64_t{std::random_device{}()} << 32) | std::random_device{}());
  options.workload.seed = seed;
  if (options.cluster.empty())  // with --data-dir only the segment's name matters; the base is then moot
    options.cluster = unused_cluster_name(
        "chaos", options.data_dir.empty() ? default_data_base() : std::filesystem::path(options.data_dir));
  const uint32_t nodes = options.segment.node_count;
  const uint32_t slots = options.segment.settled().max_nodes;
  const bool membership = options.membership.interval.count() > 0;
  if (membership && slots <= nodes) {
    throw UsageError(
        fmt::format("--membership needs room for a node to join: --max-nodes ({}) must exceed "
                    "--nodes ({})",
                    slots, nodes));
  }
  // A slot per client and one more; the membership nemesis's admin client needs one of its own.
  options.segment.client_slots =
      std::max(options.segment.client_slots, options.workload.clients + 1 + (membership ? 1 : 0));
  check_node_args(options.node_args);
  refuse_used_data(ClusterDirs(options.cluster, options.data_dir), slots);

  SignalWatch signals({SIGINT, SIGTERM, SIGHUP, SIGCHLD});
  std::cout << fmt::format("chaos: cluster '{}', {} nodes, {} clients, {} keys, {} s, seed {}\n",
                           options.cluster, nodes, options.workload.clients, options.workload.keys,
                           options.duration_s, seed);
  CreatedCluster created = create_cluster(options.cluster, options.data_dir, options.segment, std::cout);
  const std::string cluster = options.cluster;
  // Whatever happens from here on, the segment goes (the nodes die with the Supervisor).
  struct SegmentGuard {
    std::string cluster;
    ~SegmentGuard() { ipc::Segment::destroy(cluster); }
  } segment_guard{cluster};
  ipc::Segment& segment = created.segment;
  const fs::path history_path =
      options.history_file.empty() ? created.dirs.root() / "history.jsonl" : fs::path(options.history_file);
  fs::remove(history_path);

  const NodeLaunchConfig launch{created.dirs, created.id, options.node_args};
  Supervisor supervisor(slots, [&](uint32_t node) { return node_launch(launch, node); });
  for (uint32_t node = 1; node <= nodes; ++node) supervisor.start(node);
  const auto started = Clock::now();
  while (!current_leader(segment)) {
    if (Clock::now() - started > std::chrono::seconds(10))
      throw LauncherError("no leader within 10 s of start");
    for (const auto& [node, status] : supervisor.reap_exited()) {
      throw LauncherError(fmt::format("node {} exited at start ({}); its output is in {}", node,
                                      status.describe(), created.dirs.node_output(node).string()));
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  std::cout << fmt::format("leader elected after {:.3f} s; clients and faults start\n",
                           seconds_since(started));

  checker::HistoryWriter history(history_path.string());
  Workload workload(cluster, options.workload, history);
  Nemesis nemesis(options.nemesis, seed, segment, supervisor, created.dirs, std::cout);
  std::optional<MembershipNemesis> member_changes;
  if (membership) member_changes.emplace(options.membership, seed, segment, admin_requests(cluster), nemesis);
  workload.start();
  nemesis.begin();
  if (member_changes) member_changes->begin();
  const auto began = Clock::now();
  const auto end =
      began + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.duration_s));
  auto next_progress = began + std::chrono::seconds(5);
  bool interrupted = false;
  while (!interrupted && Clock::now() < end) {
    auto next = std::min({nemesis.step(), end, next_progress});
    if (member_changes) next = std::min(next, member_changes->step());
    const auto wait = std::chrono::duration_cast<milliseconds>(next - Clock::now());
    for (const signalfd_siginfo& info : signals.wait(std::max(wait, milliseconds(0)))) {
      const int signo = static_cast<int>(info.ssi_signo);
      if (signo == SIGINT || signo == SIGTERM || signo == SIGHUP) interrupted = true;
    }
    if (Clock::now() >= next_progress) {
      const WorkloadStats s = workload.stats();
      const auto leader = current_leader(segment);
      std::cout << fmt::format("[{:7.3f}s] progress: {} operations ({} unknown), leader {}\n",
                               seconds_since(began), s.total(), s.unknown,
                               leader ? fmt::format("node {} term {}", leader->node, leader->term) : "none")
                << std::flush;
      next_progress += std::chrono::seconds(5);
    }
  }
  workload.stop();
  const double ran_s = seconds_since(began);
  if (member_changes) member_changes->end();
  nemesis.end();
  const WorkloadStats ops = workload.stats();
  const NemesisStats faults = nemesis.stats();
  if (interrupted) {
    supervisor.stop_all(kStopGrace);
    std::cout << "interrupted: stopped the cluster without checking; data in " << created.dirs.root().string()
              << ", history in " << history_path.string() << "\n";
    return 130;
  }

  Verdict verdict;
  std::cout << fmt::format(
      "operations: {} in {:.1f} s ({:.0f}/s): {} ok, {} cas mismatches, {} unknown outcome, {} rejected\n",
      ops.total(), ran_s, static_cast<double>(ops.total()) / ran_s, ops.ok, ops.cas_failed, ops.unknown,
      ops.rejected);
  std::cout << fmt::format(
      "faults: {} kills, {} restarts, {} partitions, {} heals, {} whole-cluster crashes\n", faults.kills,
      faults.restarts, faults.partitions, faults.heals, faults.crash_alls);
  if (member_changes) {
    const MembershipStats& m = member_changes->stats();
    std::cout << fmt::format(
        "membership: {} adds, {} removes ({} of the leader), {} replaces, {} transfers, {} promotions of a "
        "learner left behind; {} retries while busy, {} found done after a lost answer, {} abandoned\n",
        m.adds, m.removes, m.leader_removes, m.replaces, m.transfers, m.promotions, m.retries, m.unseen,
        m.abandoned);
    for (const std::string& error : m.errors) verdict.fail(error);
  }

  for (const std::string& exit : faults.unexpected_exits) {
    verdict.fail(exit + "; its output is in the node's .out file under " + created.dirs.root().string());
  }

  const auto converge_start = Clock::now();
  std::optional<CaughtUp> converged;
  while (Clock::now() - converge_start < options.converge_timeout) {
    nemesis.poll_repairs();
    for (const auto& [node, status] : supervisor.reap_exited()) {
      verdict.fail(fmt::format("node {} exited during catch-up ({})", node, status.describe()));
      if (nemesis.members().contains(node)) supervisor.start(node);
    }
    // A change whose answer the run's end cut off: its node is started, or stopped, now.
    if (membership) nemesis.follow_leader();
    if (const auto now_caught_up = caught_up(segment, membership)) {
      std::this_thread::sleep_for(milliseconds(50));
      if (caught_up(segment, membership) == now_caught_up) {
        converged = now_caught_up;
        break;
      }
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  nemesis.poll_repairs();
  nemesis.finish_repairs();
  if (!options.nemesis.storage_faults.empty()) {
    const RepairWatch& repairs = nemesis.repairs();
    const std::vector<double>& took = repairs.repair_seconds();
    std::cout << fmt::format(
        "storage faults: {} injected, {} repaired{}, {} failed\n", faults.storage_faults, took.size(),
        took.empty() ? "" : fmt::format(" (slowest {:.3f} s)", *std::max_element(took.begin(), took.end())),
        repairs.failures().size());
  }
  for (const std::string& failure : nemesis.repairs().failures()) verdict.fail(failure);
  if (converged) {
    std::cout << fmt::format(
        "caught up after {:.3f} s: every {}, none lost, applied index {} (voters {}; learners {})\n",
        seconds_since(converge_start), membership ? "member caught up" : "node a voter", converged->index,
        fmt::join(converged->voters.ids(), ","),
        converged->learners.empty() ? "none" : fmt::format("{}", fmt::join(converged->learners.ids(), ",")));
  } else {
    verdict.fail(fmt::format("the cluster did not catch up within {} s after healing:\n{}",
                             options.converge_timeout.count(),
                             render_status_table(read_status(segment), TableWidth::wide)));
  }
  // An orderly stop exits 0; anything else (a crash on the way out, a sanitizer report) fails the run.
  for (const auto& [node, status] : supervisor.stop_all(kStopGrace)) {
    if (status.signal != 0 || status.code != 0) {
      verdict.fail(fmt::format("node {} did not stop cleanly ({}); see {}", node, status.describe(),
                               created.dirs.node_output(node).string()));
    }
  }

  const auto history_ops = checker::read_history_file(history_path.string());
  checker::CheckOptions check_options;
  check_options.time_limit = options.check_timeout;
  const auto check_start = Clock::now();
  const checker::CheckResult linearizable = checker::check_linearizability(history_ops, check_options);
  std::cout << fmt::format("linearizability: {} ({} operations, {} search steps, {:.2f} s)\n",
                           checker::to_string(linearizable.verdict), history_ops.size(), linearizable.steps,
                           seconds_since(check_start));
  if (linearizable.verdict != checker::Verdict::ok) {
    verdict.fail(fmt::format("history is {}: key {}: {}",
                             linearizable.verdict == checker::Verdict::violation
                                 ? "not linearizable"
                                 : "not checkable within the budget",
                             linearizable.key, linearizable.explanation));
  }

  std::optional<std::pair<uint32_t, std::map<std::string, std::string>>> first_state;  // node, state
  // Every member holds every acknowledged write: the nodes that joined during the run too. A removed node
  // is checked by nothing (it left; its files stay for a look).
  const raft::NodeSet checked = converged ? converged->members() : nemesis.members();
  for (const uint32_t node : checked.ids()) {
    std::map<std::string, std::string> state;
    try {
      state = node::replay_kv_state(created.dirs.node_dir(node));
    } catch (const std::exception& e) {
      verdict.fail(fmt::format("node {}: cannot read its KV state back: {}", node, e.what()));
      continue;
    }
    const checker::CheckResult acknowledged = checker::check_final_state(history_ops, state, check_options);
    std::cout << fmt::format("acknowledged writes on node {}: {} ({} keys)\n", node,
                             checker::to_string(acknowledged.verdict), state.size());
    if (acknowledged.verdict != checker::Verdict::ok) {
      verdict.fail(fmt::format("node {}: final state {}: key {}: {}", node,
                               acknowledged.verdict == checker::Verdict::violation
                                   ? "misses or corrupts writes"
                                   : "not checkable within the budget",
                               acknowledged.key, acknowledged.explanation));
    }
    if (first_state && state != first_state->second)
      verdict.fail(fmt::format("node {}'s state differs from node {}'s", node, first_state->first));
    if (!first_state) first_state.emplace(node, std::move(state));
  }

  if (verdict.passed) {
    std::cout << "chaos: PASS\n";
    if (!options.keep_data) {
      std::error_code ec;
      if (options.history_file.empty()) fs::remove(history_path, ec);
      fs::remove_all(created.dirs.root(), ec);
    }
    return 0;
  }
  std::cout << "chaos: FAIL\n";
  for (const std::string& failure : verdict.failures) std::cout << "  - " << failure << "\n";
  std::cout << "data kept in " << created.dirs.root().string() << ", history in " << history_path.string()
            << "\n"
            << "replay (same seed and fault schedule; the interleaving depends on timing):\n  "
            << chaos_replay_command(options, seed) << std::endl;
  return 1;
}

}  // namespace shmraft::launcher
