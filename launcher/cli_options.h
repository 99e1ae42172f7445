#pragma once
// Flags shared by several subcommands, with validators, so a bad value is rejected before anything runs.
#include <CLI/CLI.hpp>
#include <string>

namespace shmraft::launcher {

inline constexpr const char* kDefaultCluster = "main";

// A cluster name as the segment accepts it: 1-64 of [A-Za-z0-9_-].
const CLI::Validator& cluster_name_validator();

// -c/--cluster NAME (default "main").
CLI::Option* add_cluster_option(CLI::App& app, std::string& cluster);

}  // namespace shmraft::launcher
