// shmraft: start, inspect, disturb and check a Raft cluster whose nodes are processes on this host.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string_view>

#include "launcher/bench/bench_command.h"
#include "launcher/bench/in_leader_node.h"
#include "launcher/child_process.h"
#include "launcher/cli_options.h"
#include "launcher/commands/command.h"
#include "launcher/launcher_error.h"
#include "launcher/unknown_command.h"

namespace {

void add_other_commands(CLI::App& app, shmraft::launcher::CommandList& commands) {
  using namespace shmraft::launcher;
  add_up_command(app, commands);
  add_down_command(app, commands);
  add_status_command(app, commands);
  add_kv_command(app, commands);
  add_fault_commands(app, commands);
  add_member_command(app, commands);
  add_transfer_command(app, commands);
  add_clean_command(app, commands);
  add_chaos_command(app, commands);
  add_bench_command(app, commands);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace shmraft::launcher;
  adopt_spawning_parent();
  CLI::App app{"shmraft: a Raft cluster on one host, one process per node, RPCs through shared memory."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("shmraft ") + SHMRAFT_VERSION);
  app.footer(
      "Exit codes: 0 success, 1 runtime error (no such cluster, a node failed, ...), 2 usage error\n"
      "(unknown command or flag, value out of range); `shmraft kv --help` lists kv's own codes.\n"
      "Units: timeouts and periods in milliseconds (--timeout-ms, --interval-ms), link delays in\n"
      "microseconds, run durations in seconds.");
  CommandList commands;
  add_node_command(app, commands);
  shmraft::bench::add_in_leader_flag(app, commands);  // the nodes' side of `bench --in-leader`
  // A node builds only its own flags: the supervisor starts one on every restart, and the other
  // subcommands' CLI (~1.5 ms of CPU and ~55 page faults here) would be taken beside the serving cluster.
  // `node` can only be the first argument: no flag of the root takes a value.
  if (argc < 2 || std::string_view(argv[1]) != "node") add_other_commands(app, commands);
  app.set_help_all_flag("--help-all", "Help for every subcommand");  // after them: not inherited

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line: the flag and what is wrong with it — or the command that does not exist.
    const std::string unknown = unknown_command_message(app);
    std::cerr << "shmraft: " << (unknown.empty() ? e.what() : unknown) << " (see --help)\n";
    return kExitUsage;
  }
  try {
    for (const Command& command : commands) {
      if (command.app->parsed()) return command.run();
    }
    std::cerr << "shmraft: no subcommand given (see --help)\n";
    return kExitUsage;
  } catch (const UsageError& e) {
    std::cerr << "shmraft: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "shmraft: " << e.what() << "\n";
    return kExitRuntime;
  }
}
