#include "launcher/node_launch.h"

#include <algorithm>

#include "launcher/child_process.h"

namespace shmraft::launcher {

Supervisor::Launch node_launch(const NodeLaunchConfig& config, uint32_t node) {
  std::vector<std::string> argv{self_executable().string(),
                                "node",
                                "--cluster",
                                config.dirs.cluster(),
                                "--node",
                                std::to_string(node),
                                "--data-dir",
                                config.dirs.node_dir(node).string(),
                                "--cluster-id",
                                config.cluster_id.to_hex()};
  argv.insert(argv.end(), config.node_args.begin(), config.node_args.end());
  return {std::move(argv), config.dirs.node_output(node)};
}

bool is_node_command_line(const std::vector<std::string>& args, const std::string& cluster, uint32_t node) {
  if (args.size() < 2 || args[1] != "node") return false;
  auto value_of = [&](const std::string& flag) -> const std::string* {
    const auto it = std::find(args.begin() + 2, args.end(), flag);
    return it == args.end() || it + 1 == args.end() ? nullptr : &*(it + 1);
  };
  const std::string* name = value_of("--cluster");
  const std::string* index = value_of("--node");
  return name != nullptr && index != nullptr && *name == cluster && *index == std::to_string(node);
}

}  // namespace shmraft::launcher
