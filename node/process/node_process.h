#pragma once
// Entry points of the node process (called by the launcher's hidden `shmraft node` subcommand, and by
// tests that fork nodes in-process).
#include <filesystem>
#include <map>
#include <string>

#include "node/process/node_options.h"

namespace shmraft::node {

// Runs one node until SIGTERM or SIGINT. Logs to options.effective_log_file() (spdlog; nothing per
// entry at level info). Returns the process exit code:
//   0  orderly stop (signal): storage synced, log flushed
//   1  could not start: bad options, no such segment / another cluster's, node id out of range,
//      data directory locked, corrupt or unwritable (one line on stderr saying which)
//   2  a fatal error while running (logged, and one line on stderr)
int run(const NodeOptions& options);

// The KV state a node's data directory holds: its snapshot plus every committed entry after it, applied
// exactly as the node applies them. For checks after a run (chaos: "is every acknowledged write here?").
// The node must not be running (the directory is locked). Throws with a message naming the directory,
// also when the persisted commit index lies past the log (acknowledged entries lost). Opens the storage
// as the node does, so its recovery may truncate a torn tail: run it on a copy to keep the evidence.
std::map<std::string, std::string> replay_kv_state(const std::filesystem::path& data_dir);

}  // namespace shmraft::node
