#pragma once
// A running cluster found by name from another process (`down`, `status`, `kv`, `kill`, `restart`,
// `partition`, `heal`): its segment, its supervisor and its node processes.
//
// "Running" means the segment exists and Segment::inspect() calls it live. Anything else is a clear
// LauncherError: no such cluster, a stale segment left by a crash (with the hint to run `shmraft clean`),
// or a foreign/incompatible object under the same name.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "ipc/segment.h"
#include "launcher/node_output.h"

namespace shmraft::launcher {

// A request to a supervisor, sent with sigqueue(SIGRTMIN) so several requests queue rather than merge.
enum class SupervisorRequest : uint32_t {
  restart_node = 1,  // kill it if it runs, start it again
  start_node = 2,    // a node joining (`shmraft member add`): its directory is created and stamped first
  stop_node = 3,     // a node removed from the configuration: stopped, and not restarted after a crash
};

class LiveCluster {
 public:
  static LiveCluster attach(const std::string& cluster);

  ipc::Segment& segment() noexcept { return segment_; }
  const std::string& name() const noexcept { return segment_.cluster(); }
  uint32_t node_count() const noexcept { return segment_.node_count(); }
  uint32_t max_nodes() const noexcept { return segment_.max_nodes(); }

  // Ids 1..node_count(), and those above that a node has run as (added by `shmraft member add`).
  // Throws UsageError "node id 7 out of range 1..3: cluster 'x' has 3 nodes (and room for 7: ...)".
  void check_node(uint32_t node) const;

  // The supervisor (`shmraft up` or `shmraft chaos`) that created the segment; 0 if it is gone.
  pid_t supervisor_pid() const;
  // Its subcommand ("up", "chaos", "bench", ...), from its command line; empty if it is gone.
  std::string supervisor_command() const;

  // The pid of node `node` if that process is alive and is a node of this cluster, else 0.
  pid_t node_pid(uint32_t node) const;

  // The data root the supervisor gave its nodes (its -d/--data-dir, else the default root), read from
  // its command line; empty if it is gone.
  std::filesystem::path supervisor_data_root() const;
  // True while the supervisor has a child process running node `node` of this cluster.
  bool supervisor_runs_node(uint32_t node) const;
  // Queues `request` about `node` with the supervisor. Throws LauncherError when there is none, or when
  // it is not `shmraft up` (chaos and bench start and stop their nodes themselves, and would die of
  // the signal).
  void ask_supervisor(SupervisorRequest request, uint32_t node) const;
  // Waits until node `node` runs as a process other than `old_pid` and returns its pid. Throws
  // LauncherError when it failed to start (what its `output` says) or did not within `timeout`.
  pid_t await_start(uint32_t node, pid_t old_pid, const OutputMark& output,
                    std::chrono::milliseconds timeout) const;

 private:
  explicit LiveCluster(ipc::Segment segment) : segment_(std::move(segment)) {}
  ipc::Segment segment_;
};

// True if process `pid` runs this binary's `node` subcommand for node `node` of `cluster` (read from
// /proc/<pid>/cmdline) — so a recycled pid is never signalled by mistake.
bool is_node_process(pid_t pid, const std::string& cluster, uint32_t node);

int supervisor_request_signal();
int encode_request(SupervisorRequest request, uint32_t node);
void decode_request(int value, SupervisorRequest& request, uint32_t& node);

}  // namespace shmraft::launcher
