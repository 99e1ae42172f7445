// `shmraft up`: the foreground supervisor of one cluster.
//
// Creates the segment, starts one node process per member, and then only reacts to signals:
//   SIGINT / SIGTERM / SIGHUP  stop every node (SIGTERM, then SIGKILL), remove the segment, exit 0
//   SIGCHLD                    a node exited: report it; with --restart-on-crash start it again
//   SIGRTMIN + value           a request from another shell: `shmraft restart` (restart a node),
//                              `shmraft member add` (start a joining node), `member remove` (stop one)
// A node started while others run starts on a CPU of its own until it serves (--restart-cpu,
// start_isolation.h): the running nodes' loops and the client processes in the segment keep the rest.
// The nodes die with it even if it is SIGKILLed (PR_SET_PDEATHSIG); the segment then is stale and
// `shmraft clean` or the next `up` of the same cluster removes it.
//
// A cluster that ran before starts as its logs left it: the members of the configuration of its most
// up-to-date log (cluster_configuration.h), not the initial voters 1..n.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "launcher/cli_options.h"
#include "launcher/cluster_dirs.h"
#include "launcher/cluster_setup.h"
#include "launcher/commands/command.h"
#include "launcher/launcher_error.h"
#include "launcher/live_cluster.h"
#include "launcher/node_launch.h"
#include "launcher/node_output.h"
#include "launcher/segment_options.h"
#include "launcher/signal_watch.h"
#include "launcher/status_table.h"
#include "launcher/supervisor.h"

namespace shmraft::launcher {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kStopGrace{5000};
// A node that exits with an error this soon after its first start could not start (a damaged record, a
// bad flag): it is reported with its own error and left down; `up` gives up only when no majority is
// left to form the cluster. (A node restarted on request that fails is only reported: `shmraft restart`
// tells its caller, and the rest of the cluster runs on.)
constexpr milliseconds kStartupWindow{2000};
// A start on a CPU of its own ends when the node's counters name its pid (it has recovered its files:
// 20–55 ms on the host of docs/results/2026-12-07.md), looked at this often, or after the limit: a
// recovery that takes longer would keep the commit path on fewer CPUs for longer than its stalls cost.
constexpr milliseconds kIsolationPoll{1};
constexpr milliseconds kIsolationLimit{2000};

struct UpOptions {
  std::string cluster;
  std::string data_dir;
  ipc::SegmentConfig segment;
  bool nodes_given = false;      // -n on the command line
  bool max_nodes_given = false;  // --max-nodes on the command line
  bool restart_on_crash = false;
  std::string restart_cpu = "isolated";
  std::vector<std::string> node_args;
};

// Every live process holding a client slot: their threads are on the commit path.
std::vector<pid_t> client_processes(const ipc::Segment& segment) {
  std::set<pid_t> owners;
  for (uint32_t slot = 0; slot < segment.client_slots(); ++slot) {
    const pid_t owner = segment.client_slot_owner(slot);
    if (owner != 0 && process_exists(owner)) owners.insert(owner);
  }
  return {owners.begin(), owners.end()};
}

// Starts nodes beside running ones where --restart-cpu says, and ends a start's CPU of its own once the
// node serves.
class NodeStarts {
 public:
  NodeStarts(Supervisor& supervisor, const ipc::Segment& segment, bool isolated)
      : supervisor_(supervisor), segment_(segment), isolated_(isolated) {}

  // Starts `node`; "" or ", on CPU <n> of its own until it serves" for the line that reports it.
  std::pair<pid_t, std::string> start(uint32_t node) {
    const bool beside_others = !supervisor_.running_nodes().empty();
    const StartPlacement placement =
        isolated_ && beside_others ? StartPlacement::own_cpu : StartPlacement::shared;
    const pid_t pid = supervisor_.start(node, placement, client_processes(segment_));
    const auto isolated = supervisor_.isolated_start();
    if (!isolated) return {pid, ""};
    since_ = Clock::now();
    return {pid, ", on CPU " + std::to_string(isolated->cpu) + " of its own until it serves"};
  }
  // How long the caller may sleep before tend() has something to look at.
  milliseconds poll(milliseconds otherwise) const {
    return supervisor_.isolated_start() ? std::min(otherwise, kIsolationPoll) : otherwise;
  }
  // Ends a start's isolation once its node serves or the limit passed, and says so.
  void tend() {
    const auto isolated = supervisor_.isolated_start();
    if (!isolated) return;
    const uint32_t node = isolated->node;
    const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - since_);
    const bool serves = segment_.node_counters(node).pid.load(std::memory_order_relaxed) ==
                        static_cast<uint64_t>(supervisor_.pid(node));
    if (!serves && took < kIsolationLimit) return;
    supervisor_.end_start_isolation();
    std::cout << "node " << node << ": " << (serves ? "serves" : "not serving yet") << " after "
              << took.count() << " ms; every CPU shared again" << std::endl;
  }

 private:
  Supervisor& supervisor_;
  const ipc::Segment& segment_;
  const bool isolated_;
  Clock::time_point since_{};
};

// Says when a majority of the voters lost their state, and when that is over; returns whether it holds.
bool report_majority_lost(const std::optional<MajorityLost>& lost, bool reported,
                          const std::string& cluster) {
  if (lost && !reported) std::cerr << "shmraft: error: " << lost->describe(cluster) << std::endl;
  if (!lost && reported)
    std::cerr << "shmraft: cluster '" << cluster << "': a majority of the voters holds its state again"
              << std::endl;
  return lost.has_value();
}

// Restarts after crashes, with a delay that doubles while a node keeps dying soon after starting.
class RestartPolicy {
 public:
  void started(uint32_t node) { started_at_[node] = Clock::now(); }
  Clock::time_point due_after_crash(uint32_t node) {
    const bool quick = Clock::now() - started_at_[node] < milliseconds(1000);
    milliseconds& delay = delay_[node];
    delay = quick ? std::min(std::max(delay * 2, milliseconds(100)), milliseconds(5000)) : milliseconds(0);
    return Clock::now() + delay;
  }

 private:
  std::map<uint32_t, Clock::time_point> started_at_;
  std::map<uint32_t, milliseconds> delay_;
};

// Nodes that exited with an error within kStartupWindow of their first start: each says why in the first
// lines of its output. The cluster runs on while a majority of its voters started.
class StartupFailures {
 public:
  explicit StartupFailures(raft::NodeSet voters) : voters_(voters) {}

  void add(uint32_t node, const ExitStatus& status, const OutputMark& output) {
    failed_.insert(node);
    if (voters_.contains(node)) ++failed_voters_;
    std::cerr << "shmraft: node " << node << " failed to start (" << status.describe()
              << "): " << output.first_lines() << " (see " << output.path().string() << ")" << std::endl;
  }
  bool majority_up() const { return voters_.size() - failed_voters_ > voters_.size() / 2; }
  // "a cluster of 3 voters needs 2 running"
  std::string quorum() const {
    return "a cluster of " + std::to_string(voters_.size()) + " voters needs " +
           std::to_string(voters_.size() / 2 + 1) + " running";
  }
  // "node 2" or "nodes 2, 4".
  std::string nodes() const {
    std::string list;
    for (uint32_t node : failed_) list += (list.empty() ? "" : ", ") + std::to_string(node);
    return (failed_.size() == 1 ? "node " : "nodes ") + list;
  }
  // What to type once they are repaired.
  std::string restart_hint(const std::string& cluster) const {
    const std::string node = failed_.size() == 1 ? std::to_string(*failed_.begin()) : "<node>";
    return "`shmraft restart -c " + cluster + " " + node + "`";
  }

 private:
  raft::NodeSet voters_;
  std::size_t failed_voters_ = 0;
  std::set<uint32_t> failed_;  // in order, however they were reaped
};

int run_up(const UpOptions& options) {
  check_node_args(options.node_args);
  SignalWatch signals({SIGINT, SIGTERM, SIGHUP, SIGCHLD, supervisor_request_signal()});
  const UpRequest request{options.segment, options.nodes_given, options.max_nodes_given};
  CreatedCluster created = create_cluster(
      options.cluster, options.data_dir,
      [&](const ClusterDirs& dirs, const std::optional<ipc::ClusterId>& stamped) {
        return plan_up(dirs, stamped, request, std::cout);
      },
      std::cout);
  ipc::Segment& segment = created.segment;
  // The witness of an earlier start (storage/state_detection.h) lived in the old segment: say in the new
  // one that every member of the stored configuration ran before, so a wiped one starts lost.
  for (const uint32_t node : created.plan.ran_before.ids())
    ipc::NodeCounters::set(segment.node_counters(node).incarnation, 1);
  const NodeLaunchConfig launch{created.dirs, created.id, options.node_args};
  Supervisor supervisor(segment.max_nodes(), [&](uint32_t node) { return node_launch(launch, node); });
  NodeStarts starts(supervisor, segment, options.restart_cpu == "isolated");
  RestartPolicy policy;
  std::map<uint32_t, Clock::time_point> pending_restarts;
  std::set<uint32_t> restarted;            // on request: outside the first start
  std::map<uint32_t, OutputMark> outputs;  // where each node's current start begins in its output
  StartupFailures startup_failures(created.plan.voters);
  const Clock::time_point began = Clock::now();
  int exit_code = 0;

  // The segment goes last, whatever happens, so no other shell finds a half-stopped cluster.
  auto shutdown = [&] {
    for (const auto& [node, status] : supervisor.stop_all(kStopGrace)) {
      if (status.signal != 0 || status.code != 0) {
        std::cout << "node " << node << ": did not stop cleanly (" << status.describe() << "), see "
                  << created.dirs.node_output(node).string() << std::endl;
        exit_code = 1;
      }
    }
    ipc::Segment::destroy(options.cluster);
  };
  try {
    for (const uint32_t node : created.plan.nodes.ids()) {
      outputs.insert_or_assign(node, OutputMark(created.dirs.node_output(node)));
      const pid_t pid = supervisor.start(node);
      policy.started(node);
      std::cout << "node " << node << ": pid " << pid << ", data " << created.dirs.node_dir(node).string()
                << "\n";
    }
    std::cout << "cluster '" << options.cluster << "' is up; Ctrl-C or `shmraft down -c " << options.cluster
              << "` stops it" << std::endl;

    std::optional<LeaderInfo> reported_leader;
    bool reported_majority_lost = false;
    bool stopping = false;
    Clock::time_point next_look = Clock::now();
    while (!stopping) {
      // Sleep until a signal, the next pending restart, the next look at who leads (often until the
      // first leader shows), or the next look at a start on a CPU of its own.
      auto timeout = std::chrono::ceil<milliseconds>(std::max(next_look - Clock::now(), Clock::duration(0)));
      for (const auto& [node, due] : pending_restarts) {
        timeout = std::min(timeout,
                           std::chrono::ceil<milliseconds>(std::max(due - Clock::now(), Clock::duration(0))));
      }
      timeout = starts.poll(timeout);
      for (const signalfd_siginfo& info : signals.wait(timeout)) {
        const int signo = static_cast<int>(info.ssi_signo);
        if (signo == SIGINT || signo == SIGTERM || signo == SIGHUP) {
          std::cout << "stopping cluster '" << options.cluster << "' (" << sigabbrev_np(signo) << ")"
                    << std::endl;
          stopping = true;
        } else if (signo == supervisor_request_signal()) {
          SupervisorRequest request;
          uint32_t node = 0;
          decode_request(info.ssi_int, request, node);
          if (node < 1 || node > segment.max_nodes() ||
              (request != SupervisorRequest::restart_node && request != SupervisorRequest::start_node &&
               request != SupervisorRequest::stop_node)) {
            std::cout << "ignored a malformed request from pid " << info.ssi_pid << std::endl;
            continue;
          }
          pending_restarts.erase(node);
          if (request == SupervisorRequest::stop_node) {
            const bool ran = supervisor.stop(node, kStopGrace);
            std::cout << "node " << node << ": " << (ran ? "stopped" : "was not running")
                      << " on request of pid " << info.ssi_pid << " (removed from the configuration)"
                      << std::endl;
            continue;
          }
          if (request == SupervisorRequest::start_node && supervisor.running(node)) {
            std::cout << "node " << node << ": runs already (request of pid " << info.ssi_pid << ")"
                      << std::endl;
            continue;
          }
          supervisor.kill(node);
          restarted.insert(node);
          if (request == SupervisorRequest::start_node) {
            try {
              created.dirs.stamp_node(node, created.id);  // a joining node's directory, 0700
            } catch (const std::exception& e) {
              std::cout << "node " << node << ": cannot start: " << e.what() << std::endl;
              continue;
            }
          }
          outputs.insert_or_assign(node, OutputMark(created.dirs.node_output(node)));
          const auto [pid, where] = starts.start(node);
          policy.started(node);
          std::cout << "node " << node << ": "
                    << (request == SupervisorRequest::start_node ? "started" : "restarted")
                    << " on request of pid " << info.ssi_pid << ", pid " << pid << where << std::endl;
        }
      }
      if (stopping) break;
      for (const auto& [node, status] : supervisor.reap_exited()) {
        std::cout << "node " << node << ": exited (" << status.describe() << ")" << std::endl;
        if (status.signal == 0 && status.code != 0 && Clock::now() - began < kStartupWindow &&
            !restarted.contains(node)) {
          startup_failures.add(node, status, outputs.at(node));
          if (!startup_failures.majority_up()) {
            throw LauncherError("no majority could start: " + startup_failures.nodes() +
                                " failed (see above), and " + startup_failures.quorum() + "; stopping it");
          }
          std::cerr << "shmraft: warning: cluster '" << options.cluster << "' runs without "
                    << startup_failures.nodes() << "; once repaired, "
                    << startup_failures.restart_hint(options.cluster) << " starts it again" << std::endl;
          continue;  // not restarted on a crash: it would fail the same way
        }
        if (options.restart_on_crash) pending_restarts[node] = policy.due_after_crash(node);
      }
      for (auto it = pending_restarts.begin(); it != pending_restarts.end();) {
        if (Clock::now() < it->second) {
          ++it;
          continue;
        }
        outputs.insert_or_assign(it->first, OutputMark(created.dirs.node_output(it->first)));
        const auto [pid, where] = starts.start(it->first);
        policy.started(it->first);
        std::cout << "node " << it->first << ": restarted after a crash, pid " << pid << where << std::endl;
        it = pending_restarts.erase(it);
      }
      starts.tend();
      if (Clock::now() < next_look) continue;
      next_look = Clock::now() + milliseconds(reported_leader ? 250 : 20);
      if (const auto leader = current_leader(segment);
          leader && (!reported_leader || leader->node != reported_leader->node ||
                     leader->term != reported_leader->term)) {
        const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - began);
        std::cout << "leader: node " << leader->node << " (term " << leader->term << ") after "
                  << took.count() << " ms" << std::endl;
        reported_leader = leader;
      }
      // Outside the fault model the cluster stays up (its files can be copied, its status read) and says
      // once, loudly, why it cannot serve.
      reported_majority_lost =
          report_majority_lost(majority_lost(read_status(segment)), reported_majority_lost, options.cluster);
    }
  } catch (const std::exception& e) {
    std::cerr << "shmraft: " << e.what() << std::endl;
    exit_code = 1;
  }
  shutdown();
  std::cout << "cluster '" << options.cluster << "' stopped, segment removed" << std::endl;
  return exit_code;
}

}  // namespace

void add_up_command(CLI::App& root, CommandList& commands) {
  auto options = std::make_shared<UpOptions>();
  CLI::App* app =
      root.add_subcommand("up", "Start a cluster and supervise it in the foreground (Ctrl-C stops it)");
  app->footer(
      "A cluster that ran before starts the members of the configuration its most up-to-date log holds "
      "(`shmraft member` changes are kept); -n is then the initial voters it began with, or left out.\n"
      "Everything after `--` is passed to every node (see `shmraft node --help`).");
  add_cluster_option(*app, options->cluster);
  add_segment_options(*app, options->segment);
  app->add_option("-d,--data-dir", options->data_dir,
                  "Root of the node directories (default " + default_data_base().string() +
                      "/<cluster>; node<i>/ inside)");
  app->add_flag("--restart-on-crash", options->restart_on_crash, "Start a node again when it dies");
  app->add_option("--restart-cpu", options->restart_cpu,
                  "Where a node started beside running ones starts: isolated (on a CPU of its own, the "
                  "other nodes' loops and the client processes off it until it serves) or shared "
                  "(wherever the scheduler puts it)")
      ->check(CLI::IsMember({"isolated", "shared"}))
      ->capture_default_str();
  app->add_option("node_flags", options->node_args, "Flags for every node, after `--`");
  commands.push_back({app, [options, app] {
                        options->nodes_given = app->get_option("--nodes")->count() > 0;
                        options->max_nodes_given = app->get_option("--max-nodes")->count() > 0;
                        return run_up(*options);
                      }});
}

}  // namespace shmraft::launcher
