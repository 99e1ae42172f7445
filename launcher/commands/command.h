#pragma once
// Each subcommand of `shmraft` registers its flags on the root app and hands back what to run once the
// command line parsed. main() runs the one that was selected.
#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace shmraft::launcher {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};
using CommandList = std::vector<Command>;

void add_node_command(CLI::App& root, CommandList& commands);
void add_up_command(CLI::App& root, CommandList& commands);
void add_down_command(CLI::App& root, CommandList& commands);
void add_status_command(CLI::App& root, CommandList& commands);
void add_kv_command(CLI::App& root, CommandList& commands);
void add_fault_commands(CLI::App& root, CommandList& commands);  // kill, restart, partition, heal
void add_clean_command(CLI::App& root, CommandList& commands);
void add_chaos_command(CLI::App& root, CommandList& commands);
void add_member_command(CLI::App& root, CommandList& commands);  // member list|add|promote|remove
void add_transfer_command(CLI::App& root, CommandList& commands);

}  // namespace shmraft::launcher
