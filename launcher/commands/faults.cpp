// Fault injection into a running cluster: `kill`, `restart`, `partition`, `heal`.
//
// kill       SIGKILL to the node process (found through the segment's counters and checked against its
//            command line); the supervisor notices, and restarts it only under --restart-on-crash.
// restart    asks the supervisor (sigqueue) to kill the node if it runs and start it again; waits until
//            the new process has registered in the segment.
// partition  cuts every link between the given nodes and the rest, both directions (or, with
//            --drop-rate/--delay, degrades them instead); links inside each side are healed first, so the
//            command describes the whole network state.
// heal       every link healthy again.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <thread>

#include "launcher/child_process.h"
#include "launcher/cli_options.h"
#include "launcher/cluster_dirs.h"
#include "launcher/commands/command.h"
#include "launcher/launcher_error.h"
#include "launcher/live_cluster.h"
#include "launcher/network_faults.h"
#include "launcher/node_output.h"

namespace shmraft::launcher {

namespace {

using Clock = std::chrono::steady_clock;

struct NodeTarget {
  std::string cluster;
  uint32_t node = 0;
  uint32_t timeout_ms = 10'000;
};

int run_kill(const NodeTarget& target) {
  LiveCluster cluster = LiveCluster::attach(target.cluster);
  cluster.check_node(target.node);
  const pid_t pid = cluster.node_pid(target.node);
  if (pid == 0)
    throw LauncherError("node " + std::to_string(target.node) + " of cluster '" + target.cluster +
                        "' is not running");
  if (::kill(pid, SIGKILL) != 0) throw LauncherError("cannot SIGKILL pid " + std::to_string(pid));
  const auto deadline = Clock::now() + std::chrono::milliseconds(target.timeout_ms);
  while (process_exists(pid) && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::cout << "killed node " << target.node << " (pid " << pid << ")" << std::endl;
  return 0;
}

int run_restart(const NodeTarget& target) {
  LiveCluster cluster = LiveCluster::attach(target.cluster);
  cluster.check_node(target.node);
  const pid_t old_pid = cluster.node_pid(target.node);
  const OutputMark output(
      ClusterDirs(target.cluster, cluster.supervisor_data_root()).node_output(target.node));
  cluster.ask_supervisor(SupervisorRequest::restart_node, target.node);
  const pid_t pid =
      cluster.await_start(target.node, old_pid, output, std::chrono::milliseconds(target.timeout_ms));
  std::cout << "restarted node " << target.node << " (pid " << pid << ")" << std::endl;
  return 0;
}

struct PartitionOptions {
  std::string cluster;
  std::vector<uint32_t> group;
  double drop_rate = 1.0;
  uint32_t delay_us = 0;
};

int run_partition(const PartitionOptions& options) {
  LiveCluster cluster = LiveCluster::attach(options.cluster);
  for (uint32_t node : options.group) cluster.check_node(node);
  const std::set<uint32_t> group(options.group.begin(), options.group.end());
  if (group.size() == cluster.node_count()) {
    throw UsageError("partition of every node (1.." + std::to_string(cluster.node_count()) +
                     ") would cut no link: name the nodes on ONE side of the cut (`shmraft heal` heals)");
  }
  ipc::FaultSettings fault;
  fault.connected = !(options.drop_rate >= 1.0 && options.delay_us == 0);
  fault.drop_rate = fault.connected ? options.drop_rate : 0.0;
  fault.delay = std::chrono::microseconds(options.delay_us);
  const uint32_t links = partition(cluster.segment(), group, fault);
  std::cout << (fault.connected ? "degraded " : "cut ") << links << " links between {";
  const char* separator = "";
  for (uint32_t node : group) {
    std::cout << separator << node;
    separator = ",";
  }
  std::cout << "} and the rest" << std::endl;
  return 0;
}

int run_heal(const std::string& cluster_name) {
  LiveCluster cluster = LiveCluster::attach(cluster_name);
  heal_all(cluster.segment());
  std::cout << "healed every link of cluster '" << cluster_name << "'" << std::endl;
  return 0;
}

CLI::App* add_node_target(CLI::App& root, const std::string& name, const std::string& description,
                          NodeTarget& target) {
  CLI::App* app = root.add_subcommand(name, description);
  add_cluster_option(*app, target.cluster);
  app->add_option("node", target.node, "Node id (1..N)")->required()->check(node_id_validator());
  add_timeout_option(*app, target.timeout_ms, "How long to wait for the effect");
  return app;
}

}  // namespace

void add_fault_commands(CLI::App& root, CommandList& commands) {
  auto kill_target = std::make_shared<NodeTarget>();
  CLI::App* kill = add_node_target(root, "kill", "SIGKILL one node process", *kill_target);
  commands.push_back({kill, [kill_target] { return run_kill(*kill_target); }});

  auto restart_target = std::make_shared<NodeTarget>();
  CLI::App* restart =
      add_node_target(root, "restart", "Start a node again (killing it first if it runs)", *restart_target);
  commands.push_back({restart, [restart_target] { return run_restart(*restart_target); }});

  auto partition_options = std::make_shared<PartitionOptions>();
  CLI::App* part = root.add_subcommand(
      "partition", "Cut the links between the given nodes and the rest (replaces any earlier partition)");
  add_cluster_option(*part, partition_options->cluster);
  part->add_option("nodes", partition_options->group, "Node ids (1..N) on one side of the cut")
      ->required()
      ->check(node_id_validator());
  part->add_option("--drop-rate", partition_options->drop_rate,
                   "Instead of cutting, drop this fraction of frames on those links (0..1)")
      ->check(in_range(0.0, 1.0))
      ->capture_default_str();
  part->add_option("--delay", partition_options->delay_us, "Delay every frame on those links (microseconds)")
      ->check(in_range(0u, 10'000'000u, "µs"))
      ->capture_default_str();
  commands.push_back({part, [partition_options] { return run_partition(*partition_options); }});

  auto heal_cluster = std::make_shared<std::string>();
  CLI::App* heal = root.add_subcommand("heal", "Make every link between nodes healthy again");
  add_cluster_option(*heal, *heal_cluster);
  commands.push_back({heal, [heal_cluster] { return run_heal(*heal_cluster); }});
}

}  // namespace shmraft::launcher
