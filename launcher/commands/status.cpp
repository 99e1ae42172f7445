// `shmraft status`: a live table of every node's counters, refreshed until Ctrl-C or the cluster stops.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "launcher/cli_options.h"
#include "launcher/commands/command.h"
#include "launcher/live_cluster.h"
#include "launcher/status_table.h"

namespace shmraft::launcher {

namespace {

struct StatusOptions {
  std::string cluster;
  bool once = false;
  bool json = false;
  bool wide = false;
  uint32_t interval_ms = 500;
};

// Returns whether the cluster can serve (not a majority of its voters lost).
bool print_once(LiveCluster& cluster, const StatusOptions& options) {
  const auto nodes = read_status(cluster.segment());
  const std::optional<MajorityLost> lost = majority_lost(nodes);
  if (options.json) {
    std::cout << nlohmann::json{{"cluster", cluster.name()},
                                {"cluster_id", cluster.segment().cluster_id().to_hex()},
                                {"supervisor_pid", cluster.supervisor_pid()},
                                {"nodes", status_json(nodes)},
                                {"majority_lost",
                                 lost ? nlohmann::json{{"voters", lost->voters},
                                                       {"lost", lost->lost},
                                                       {"message", lost->describe(cluster.name())}}
                                      : nlohmann::json(nullptr)}}
                     .dump()
              << std::endl;
    return !lost;
  }
  // Every node slot in use: the initial voters and the nodes that joined since (a removed node too).
  std::cout << "cluster '" << cluster.name() << "': " << nodes.size() << " nodes";
  if (nodes.size() != cluster.node_count()) std::cout << " (" << cluster.node_count() << " initial)";
  if (const auto removed = std::ranges::count(nodes, "removed", role_name); removed > 0)
    std::cout << ", " << removed << " removed";
  std::cout << ", supervisor pid " << cluster.supervisor_pid();
  if (options.wide) std::cout << ", segment " << cluster.segment().size() << " bytes";
  std::cout << "\n"
            << render_status_table(nodes, options.wide ? TableWidth::wide : TableWidth::narrow) << std::flush;
  if (lost) std::cerr << "error: " << lost->describe(cluster.name()) << std::endl;
  return !lost;
}

int run_status(const StatusOptions& options) {
  LiveCluster cluster = LiveCluster::attach(options.cluster);
  // JSON carries the refusal as `majority_lost` (scripts read it there); the table's exit code says it.
  if (options.once) return print_once(cluster, options) || options.json ? kExitOk : kExitMajorityLost;
  while (ipc::Segment::exists(options.cluster)) {
    if (!options.json) std::cout << "\x1b[H\x1b[2J";  // home + clear: redraw in place
    print_once(cluster, options);
    if (!options.json) std::cout << "(every " << options.interval_ms << " ms; Ctrl-C quits)" << std::endl;
    std::this_thread::sleep_for(std::chrono::milliseconds(options.interval_ms));
  }
  std::cout << "cluster '" << options.cluster << "' stopped" << std::endl;
  return 0;
}

}  // namespace

void add_status_command(CLI::App& root, CommandList& commands) {
  auto options = std::make_shared<StatusOptions>();
  CLI::App* app = root.add_subcommand(
      "status", "Live table of every node slot in use: role, term, indexes, link state, bad frames");
  add_cluster_option(*app, options->cluster);
  app->add_flag(
      "--once", options->once,
      "Print the table once and exit (exit code 3 when a majority of the voters lost their state; with "
      "--json, see majority_lost)");
  app->add_flag("--json", options->json, "Print JSON (one object per refresh) instead of a table");
  app->add_flag("--wide", options->wide,
                "Also frames in/out, drops, elections, syncs, sleeps (wider than 80 columns)");
  app->add_option("--interval-ms", options->interval_ms, "Refresh period (milliseconds)")
      ->check(in_range(50u, 60'000u, "ms"))
      ->capture_default_str();
  commands.push_back({app, [options] { return run_status(*options); }});
}

}  // namespace shmraft::launcher
