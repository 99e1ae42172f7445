#include "launcher/node_launch.h"

#include <CLI/CLI.hpp>
#include <algorithm>

#include "launcher/child_process.h"
#include "launcher/launcher_error.h"
#include "node/process/node_options.h"

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

void check_node_args(const std::vector<std::string>& node_args) {
  for (const std::string& arg : node_args) {
    for (const char* own : {"--cluster", "--node", "--data-dir", "--cluster-id"}) {
      if (arg == own || arg.rfind(std::string(own) + "=", 0) == 0) {
        throw UsageError(std::string(own) +
                         " is set by the launcher for each node; leave it out of the node flags");
      }
    }
  }
  node::NodeOptions options;
  CLI::App probe("node flags", "node");
  node::add_node_flags(probe, options);
  std::vector<std::string> args{"--cluster", "probe", "--node", "1", "--data-dir", "/nonexistent"};
  args.insert(args.end(), node_args.begin(), node_args.end());
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
  try {
    probe.parse(args);
    node::validate(options);
  } catch (const CLI::ParseError& e) {
    throw UsageError(std::string("node flags: ") + e.what());
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("node flags: ") + e.what());
  }
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
