// shmraft: start, inspect, disturb and check a Raft cluster whose nodes are processes on this host.
#include <CLI/CLI.hpp>
#include <iostream>

#include "launcher/bench/bench_command.h"
#include "launcher/commands/command.h"
#include "launcher/launcher_error.h"

int main(int argc, char** argv) {
  using namespace shmraft::launcher;
  CLI::App app{"shmraft: a Raft cluster on one host, one process per node, RPCs through shared memory."};
  app.require_subcommand(1);
  CommandList commands;
  add_node_command(app, commands);
  add_up_command(app, commands);
  add_down_command(app, commands);
  add_status_command(app, commands);
  add_kv_command(app, commands);
  add_fault_commands(app, commands);
  add_clean_command(app, commands);
  add_chaos_command(app, commands);
  add_bench_command(app, commands);
  app.set_help_all_flag("--help-all", "Help for every subcommand");  // after them: not inherited

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line: the flag and what is wrong with it.
    std::cerr << "shmraft: " << e.what() << " (see --help)\n";
    return 2;
  }
  try {
    for (const Command& command : commands) {
      if (command.app->parsed()) return command.run();
    }
    std::cerr << "shmraft: no subcommand given (see --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "shmraft: " << e.what() << "\n";
    return 1;
  }
}
