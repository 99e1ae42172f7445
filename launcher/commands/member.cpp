// `shmraft member -c NAME list|add ID|remove ID|promote ID`: membership changes of a running cluster,
// one server at a time (the Raft core's rules, dissertation §4.1), asked of the leader.
//
// list     the leader's configuration (voters, learners), and each node's role and log positions from
//          its counters
// add      starts node ID's process through the supervisor (`shmraft up`; its directory is created
//          0700 and stamped), then adds it as a learner: it receives the log but neither votes nor
//          counts toward any majority. `promote` makes it a voter once it has caught up.
// promote  a learner becomes a voter (retried while it catches up with the leader's log)
// remove   proposes the removal; once committed, the supervisor stops the process (after a new leader
//          took over, if it was the leader)
// Each change is answered once its entry is committed. Refusals say why: an id the segment has no room
// for, adding a member, removing the last voter, a change while another is in progress.
#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>
#include <thread>

#include "launcher/cli_options.h"
#include "launcher/cluster_dirs.h"
#include "launcher/commands/command.h"
#include "launcher/launcher_error.h"
#include "launcher/live_cluster.h"
#include "launcher/membership.h"
#include "node/process/node_counters.h"

namespace shmraft::launcher {

namespace {

using Clock = std::chrono::steady_clock;
using node::AdminOp;
using std::chrono::milliseconds;

struct MemberOptions {
  std::string cluster;
  uint32_t node = 0;
  uint32_t timeout_ms = 10'000;
};

std::string membership_of(const client::AdminOutcome& conf, uint32_t node) {
  if (conf.voters.contains(node)) return "voter";
  if (conf.learners.contains(node)) return "learner";
  return "-";
}

int run_list(const MemberOptions& options) {
  LiveCluster cluster = LiveCluster::attach(options.cluster);
  client::AdminClient admin = open_admin(cluster);
  const client::AdminOutcome conf =
      ask_leader(admin, cluster, AdminOp::kConfiguration, 0, milliseconds(options.timeout_ms));
  std::cout << "cluster '" << cluster.name() << "': leader " << conf.leader << ", commit " << conf.index
            << ", " << conf.voters.size() << " voters, " << conf.learners.size() << " learners (room for "
            << cluster.max_nodes() << " nodes)\n";
  std::cout << std::left << std::setw(6) << "node" << std::setw(9) << "member" << std::setw(15) << "role"
            << std::setw(9) << "pid" << std::setw(7) << "term" << std::setw(10) << "last" << std::setw(10)
            << "commit"
            << "applied\n";
  for (uint32_t node = 1; node <= cluster.max_nodes(); ++node) {
    const pid_t pid = cluster.node_pid(node);
    const std::string member = membership_of(conf, node);
    if (member == "-" && pid == 0) continue;  // neither in the configuration nor running
    const ipc::NodeCountersSnapshot c = cluster.segment().node_counters(node).snapshot();
    std::cout << std::setw(6) << node << std::setw(9) << member << std::setw(15)
              << (pid == 0 ? std::string_view("down") : node::role_name(c.role)) << std::setw(9)
              << (pid == 0 ? std::string("-") : std::to_string(pid)) << std::setw(7) << c.term
              << std::setw(10) << c.last_index << std::setw(10) << c.commit_index << c.applied_index << "\n";
  }
  std::cout << std::flush;
  return 0;
}

// The configuration, and a LauncherError when `node` already is (`want_member`) or is not a member.
client::AdminOutcome check_membership(client::AdminClient& admin, const LiveCluster& cluster, uint32_t node,
                                      bool want_member, milliseconds timeout) {
  const client::AdminOutcome conf = ask_leader(admin, cluster, AdminOp::kConfiguration, 0, timeout);
  const std::string member = membership_of(conf, node);
  if (want_member && member == "-")
    throw LauncherError("node " + std::to_string(node) + " is not a member of cluster '" + cluster.name() +
                        "'");
  if (!want_member && member != "-")
    throw LauncherError("node " + std::to_string(node) + " is a member of cluster '" + cluster.name() +
                        "' already (a " + member + ")");
  return conf;
}

// A refusal after an attempt that may have been carried out unseen is checked against the
// configuration: the change may be done already.
bool done_unseen(client::AdminClient& admin, const LiveCluster& cluster, const client::AdminOutcome& outcome,
                 AdminOp op, uint32_t node, milliseconds timeout) {
  if (!outcome.after_doubt) return false;
  return change_in_effect(ask_leader(admin, cluster, AdminOp::kConfiguration, 0, timeout), op, node);
}

int run_add(const MemberOptions& options) {
  LiveCluster cluster = LiveCluster::attach(options.cluster);
  check_member_id(cluster, options.node);
  const milliseconds timeout(options.timeout_ms);
  client::AdminClient admin = open_admin(cluster);
  check_membership(admin, cluster, options.node, false, timeout);

  bool started = false;
  if (cluster.node_pid(options.node) == 0) {
    const OutputMark output(
        ClusterDirs(cluster.name(), cluster.supervisor_data_root()).node_output(options.node));
    cluster.ask_supervisor(SupervisorRequest::start_node, options.node);
    const pid_t pid = cluster.await_start(options.node, 0, output, timeout);
    std::cout << "started node " << options.node << " (pid " << pid << ")" << std::endl;
    started = true;
  }
  const client::AdminOutcome added = ask_leader(admin, cluster, AdminOp::kAddLearner, options.node, timeout);
  if (added.status != raft::Status::kOk &&
      !done_unseen(admin, cluster, added, AdminOp::kAddLearner, options.node, timeout)) {
    if (started) cluster.ask_supervisor(SupervisorRequest::stop_node, options.node);  // leave nothing behind
    throw LauncherError("cannot add node " + std::to_string(options.node) + ": " +
                        describe_refusal(added.status, options.node));
  }
  std::cout << "node " << options.node << " joined cluster '" << cluster.name() << "' as a learner (entry "
            << added.index << "); `shmraft member promote -c " << cluster.name() << " " << options.node
            << "` makes it a voter" << std::endl;
  return 0;
}

int run_promote(const MemberOptions& options) {
  LiveCluster cluster = LiveCluster::attach(options.cluster);
  check_member_id(cluster, options.node);
  const milliseconds timeout(options.timeout_ms);
  const Clock::time_point give_up = Clock::now() + timeout;
  client::AdminClient admin = open_admin(cluster);
  for (;;) {
    const client::AdminOutcome promoted =
        ask_leader(admin, cluster, AdminOp::kPromote, options.node, timeout);
    if (promoted.status == raft::Status::kOk ||
        done_unseen(admin, cluster, promoted, AdminOp::kPromote, options.node, timeout)) {
      std::cout << "node " << options.node << " is a voter of cluster '" << cluster.name() << "' (entry "
                << promoted.index << ")" << std::endl;
      return 0;
    }
    // A learner still catching up, or being repaired after it lost its state, is promoted as soon as it
    // has the leader's commit index and its repair is done.
    const bool worth_waiting =
        promoted.status == raft::Status::kLearnerBehind || promoted.status == raft::Status::kNodeLost;
    if (!worth_waiting || Clock::now() >= give_up)
      throw LauncherError("cannot promote node " + std::to_string(options.node) + ": " +
                          describe_refusal(promoted.status, options.node));
    std::this_thread::sleep_for(milliseconds(20));
  }
}

// Waits until the leader record names a leader other than `removed` (the removed leader hands over).
void await_other_leader(LiveCluster& cluster, uint32_t removed, milliseconds timeout) {
  const Clock::time_point give_up = Clock::now() + timeout;
  while (Clock::now() < give_up) {
    const ipc::LeaderView view = cluster.segment().leader_record().read();
    if (view.leader && *view.leader != removed) return;
    std::this_thread::sleep_for(milliseconds(5));
  }
}

int run_remove(const MemberOptions& options) {
  LiveCluster cluster = LiveCluster::attach(options.cluster);
  check_member_id(cluster, options.node);
  const milliseconds timeout(options.timeout_ms);
  client::AdminClient admin = open_admin(cluster);
  check_membership(admin, cluster, options.node, true, timeout);
  const client::AdminOutcome removed = ask_leader(admin, cluster, AdminOp::kRemove, options.node, timeout);
  if (removed.status != raft::Status::kOk &&
      !done_unseen(admin, cluster, removed, AdminOp::kRemove, options.node, timeout))
    throw LauncherError("cannot remove node " + std::to_string(options.node) + ": " +
                        describe_refusal(removed.status, options.node));
  std::cout << "node " << options.node << " left cluster '" << cluster.name() << "' (entry " << removed.index
            << ")" << std::endl;
  const pid_t pid = cluster.node_pid(options.node);
  if (pid == 0) return 0;
  if (removed.leader == options.node) await_other_leader(cluster, options.node, timeout);
  cluster.ask_supervisor(SupervisorRequest::stop_node, options.node);
  const Clock::time_point give_up = Clock::now() + timeout;
  while (cluster.node_pid(options.node) == pid && Clock::now() < give_up)
    std::this_thread::sleep_for(milliseconds(5));
  if (cluster.node_pid(options.node) == pid)
    throw LauncherError("node " + std::to_string(options.node) + " (pid " + std::to_string(pid) +
                        ") left the configuration but did not stop within " +
                        std::to_string(options.timeout_ms) + " ms");
  std::cout << "stopped node " << options.node << " (pid " << pid << ")" << std::endl;
  return 0;
}

void add_change(CLI::App& member, CommandList& commands, const std::shared_ptr<MemberOptions>& options,
                const std::string& name, const std::string& what, int (*run)(const MemberOptions&)) {
  CLI::App* app = member.add_subcommand(name, what)->fallthrough();  // -c and --timeout-ms on either side
  app->add_option("node", options->node, "Node id (1..max nodes)")->required()->check(node_id_validator());
  commands.push_back({app, [options, run] { return run(*options); }});
}

}  // namespace

void add_member_command(CLI::App& root, CommandList& commands) {
  auto options = std::make_shared<MemberOptions>();
  CLI::App* member = root.add_subcommand(
      "member", "Change the members of a running cluster, one node at a time (list|add|promote|remove)");
  member->require_subcommand(1);
  add_cluster_option(*member, options->cluster);
  add_timeout_option(*member, options->timeout_ms,
                     "How long to wait for the leader and for a change to commit");
  CLI::App* list =
      member->add_subcommand("list", "Voters, learners, the leader and each node's log positions")
          ->fallthrough();
  commands.push_back({list, [options] { return run_list(*options); }});
  add_change(*member, commands, options, "add",
             "Start node ID and add it as a learner (it votes once promoted)", run_add);
  add_change(*member, commands, options, "promote", "Make learner ID a voter once it has caught up",
             run_promote);
  add_change(*member, commands, options, "remove",
             "Remove node ID from the configuration, then stop its process", run_remove);
}

}  // namespace shmraft::launcher
