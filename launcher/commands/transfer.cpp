// `shmraft transfer -c NAME ID`: hands leadership to voter ID (the Raft core catches it up, then sends
// it TimeoutNow, dissertation §3.10), and waits until ID announces itself as leader.
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "launcher/cli_options.h"
#include "launcher/commands/command.h"
#include "launcher/launcher_error.h"
#include "launcher/live_cluster.h"
#include "launcher/membership.h"

namespace shmraft::launcher {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct TransferOptions {
  std::string cluster;
  uint32_t node = 0;
  uint32_t timeout_ms = 10'000;
};

int run_transfer(const TransferOptions& options) {
  LiveCluster cluster = LiveCluster::attach(options.cluster);
  check_member_id(cluster, options.node);
  const milliseconds timeout(options.timeout_ms);
  const Clock::time_point began = Clock::now();
  client::AdminClient admin = open_admin(cluster);
  const client::AdminOutcome started =
      ask_leader(admin, cluster, node::AdminOp::kTransfer, options.node, timeout);
  if (started.status != raft::Status::kOk)
    throw LauncherError("cannot transfer leadership to node " + std::to_string(options.node) + ": " +
                        describe_refusal(started.status, options.node));
  if (started.leader == options.node) {
    std::cout << "node " << options.node << " leads cluster '" << cluster.name() << "' already" << std::endl;
    return 0;
  }
  // The transfer is abandoned by the core after an election timeout: the old leader then goes on.
  while (Clock::now() - began < timeout) {
    const ipc::LeaderView view = cluster.segment().leader_record().read();
    if (view.leader == options.node) {
      const auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - began);
      std::cout << "node " << options.node << " leads cluster '" << cluster.name() << "' (term " << view.term
                << ", was node " << started.leader << ") after " << took.count() / 1000.0 << " ms"
                << std::endl;
      return 0;
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
  const ipc::LeaderView view = cluster.segment().leader_record().read();
  throw LauncherError(
      "leadership did not pass to node " + std::to_string(options.node) + " within " +
      std::to_string(options.timeout_ms) + " ms (" +
      (view.leader ? "node " + std::to_string(*view.leader) + " leads" : std::string("no leader")) +
      "): is it running and caught up?");
}

}  // namespace

void add_transfer_command(CLI::App& root, CommandList& commands) {
  auto options = std::make_shared<TransferOptions>();
  CLI::App* app = root.add_subcommand("transfer", "Hand leadership to voter ID and wait until it leads");
  add_cluster_option(*app, options->cluster);
  app->add_option("node", options->node, "Node id of a voter")->required()->check(node_id_validator());
  add_timeout_option(*app, options->timeout_ms, "How long to wait for the new leader");
  commands.push_back({app, [options] { return run_transfer(*options); }});
}

}  // namespace shmraft::launcher
