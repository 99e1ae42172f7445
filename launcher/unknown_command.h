#pragma once
// CLI11 reports a misspelt subcommand as "A subcommand is required" (the word is taken for a stray
// argument): this names it instead.
#include <CLI/CLI.hpp>
#include <string>

namespace shmraft::launcher {

// After a failed parse: "unknown command 'foo' (commands: up, down, ...)" when the deepest subcommand
// that was selected needs a subcommand and was given a word that is none; "" otherwise.
std::string unknown_command_message(CLI::App& app);

}  // namespace shmraft::launcher
