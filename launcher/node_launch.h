#pragma once
// The command line the supervisor execs for one node: this same binary, subcommand `node`, so a cluster
// is always made of one build. The flag names are those node/process registers.
#include <cstdint>
#include <string>
#include <vector>

#include "ipc/layout.h"
#include "launcher/cluster_dirs.h"
#include "launcher/supervisor.h"

namespace shmraft::launcher {

struct NodeLaunchConfig {
  ClusterDirs dirs;
  ipc::ClusterId cluster_id;
  std::vector<std::string> node_args;  // further `node` flags, passed to every node unchanged
};

Supervisor::Launch node_launch(const NodeLaunchConfig& config, uint32_t node);

// Checks flags meant for every node before anything starts, with the node's own flag definitions, so
// a typo is one clear error instead of N crashing nodes. Flags the launcher sets itself (--cluster,
// --node, --data-dir, --cluster-id) are refused. Throws UsageError naming the flag.
void check_node_args(const std::vector<std::string>& node_args);

// True if `args` (a process's argv) is a node command line for node `node` of `cluster`.
bool is_node_command_line(const std::vector<std::string>& args, const std::string& cluster, uint32_t node);

}  // namespace shmraft::launcher
