// `shmraft down`: asks a cluster's supervisor to stop it, and waits until its segment is gone.
#include <signal.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "launcher/cli_options.h"
#include "launcher/commands/command.h"
#include "launcher/launcher_error.h"
#include "launcher/live_cluster.h"

namespace shmraft::launcher {

namespace {

struct DownOptions {
  std::string cluster;
  uint32_t timeout_ms = 20'000;
};

int run_down(const DownOptions& options) {
  const pid_t supervisor = LiveCluster::attach(options.cluster).supervisor_pid();
  if (supervisor == 0) {
    throw LauncherError("cluster '" + options.cluster +
                        "' has no supervisor left (its creator exited) but still has live processes; "
                        "`shmraft status -c " +
                        options.cluster + "` lists them");
  }
  if (::kill(supervisor, SIGTERM) != 0) {
    throw LauncherError("cannot signal the supervisor of cluster '" + options.cluster + "' (pid " +
                        std::to_string(supervisor) + ")");
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.timeout_ms);
  while (ipc::Segment::exists(options.cluster)) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw LauncherError("cluster '" + options.cluster + "' did not stop within " +
                          std::to_string(options.timeout_ms) + " ms (supervisor pid " +
                          std::to_string(supervisor) + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::cout << "cluster '" << options.cluster << "' stopped" << std::endl;
  return 0;
}

}  // namespace

void add_down_command(CLI::App& root, CommandList& commands) {
  auto options = std::make_shared<DownOptions>();
  CLI::App* app = root.add_subcommand("down", "Stop a cluster started by `shmraft up` (from any shell)");
  add_cluster_option(*app, options->cluster);
  add_timeout_option(*app, options->timeout_ms, "How long to wait for the cluster to stop");
  commands.push_back({app, [options] { return run_down(*options); }});
}

}  // namespace shmraft::launcher
