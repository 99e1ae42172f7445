#pragma once
// The throwaway cluster one benchmark configuration runs on: a fresh segment and fresh data directories
// under a name no one else uses ("bench-<pid>-<n>"), the node processes of this same binary started by
// the launcher's Supervisor, a leader elected. Everything it started goes away with it: nodes stopped
// (SIGTERM, then SIGKILL), segment removed, data directories deleted unless kept. Even if the bench
// process itself is killed, the nodes die with it (PR_SET_PDEATHSIG) and `shmraft clean` finds the
// segment stale.
#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/kit/bench_config.h"
#include "bench/kit/stop_flag.h"
#include "ipc/segment.h"
#include "launcher/cluster_dirs.h"

namespace shmraft::launcher {
class Supervisor;
}

namespace shmraft::bench {

struct ClusterSpec {
  std::filesystem::path data_root;     // parent of the cluster's directory; empty: /tmp/shmraft
  std::vector<std::string> node_args;  // further `node` flags
  bool keep_data = false;
};

class BenchCluster {
 public:
  // Starts the cluster for `config` (nodes, fsync, wait, transport) and waits for a leader. Returns
  // nullptr if `stop` was raised meanwhile (after cleaning up). Throws launcher::LauncherError when a
  // node does not start or no leader is elected within 10 s — with the node's last output line.
  static std::unique_ptr<BenchCluster> start(const BenchConfig& config, const ipc::SegmentConfig& segment,
                                             const ClusterSpec& spec, const StopFlag& stop);
  ~BenchCluster();
  BenchCluster(const BenchCluster&) = delete;
  BenchCluster& operator=(const BenchCluster&) = delete;

  const std::string& name() const noexcept { return dirs_.cluster(); }
  std::size_t segment_bytes() const noexcept { return segment_.size(); }
  const std::filesystem::path& data_dir() const noexcept { return dirs_.root(); }
  // By node id; 0 for a node that is not running.
  std::vector<pid_t> node_pids() const;
  // One line per node that exited on its own since the last call, e.g. "node 1 exited (killed by SIGSEGV)".
  std::vector<std::string> take_exited_nodes();

 private:
  BenchCluster(launcher::ClusterDirs dirs, ipc::Segment segment, bool keep_data);
  // The last line node `node` printed (its crash message), or "" if it printed nothing.
  std::string last_output_line(uint32_t node) const;

  launcher::ClusterDirs dirs_;
  ipc::Segment segment_;
  bool keep_data_;
  std::unique_ptr<launcher::Supervisor> supervisor_;
};

}  // namespace shmraft::bench
