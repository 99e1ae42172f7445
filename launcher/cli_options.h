#pragma once
// Flags shared by several subcommands, with validators, so a bad value is rejected before anything runs.
//
// Units, one per kind of flag: timeouts and periods in milliseconds (`--timeout-ms`, `--interval-ms`),
// link delays in microseconds, run durations in seconds; each help text names its unit.
#include <CLI/CLI.hpp>
#include <sstream>
#include <string>

namespace shmraft::launcher {

inline constexpr const char* kDefaultCluster = "main";

// Exit codes of every command (kv adds its own from 3 up, listed in `shmraft kv --help`).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;  // the command could not do its work (no such cluster, ...)
inline constexpr int kExitUsage = 2;    // bad command line: unknown command or flag, value out of range

// A cluster name as the segment accepts it: 1-64 of [A-Za-z0-9_-].
const CLI::Validator& cluster_name_validator();

// A number within [min, max]; a value outside says so readably: "must be from 1 to 3600000 (ms)".
template <class T>
CLI::Validator in_range(T min, T max, const std::string& unit = {}) {
  std::ostringstream range;
  range << min << " to " << max << (unit.empty() ? "" : " (" + unit + ")");
  return CLI::Validator(
      [min, max, text = range.str()](std::string& input) -> std::string {
        T value{};
        if (CLI::detail::lexical_cast(input, value) && min <= value && value <= max) return {};
        return "'" + input + "' must be from " + text;
      },
      "in " + range.str());
}

// A node id: 1 .. ipc::kMaxNodes (the command then checks it against the cluster's size, 1..N).
const CLI::Validator& node_id_validator();

// -c/--cluster NAME (default "main").
CLI::Option* add_cluster_option(CLI::App& app, std::string& cluster);

// --timeout-ms: how long the command waits for its effect, in milliseconds.
CLI::Option* add_timeout_option(CLI::App& app, uint32_t& timeout_ms, const std::string& what);

}  // namespace shmraft::launcher
