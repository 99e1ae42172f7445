#pragma once
// The cluster one benchmark configuration runs on.
//
// Started (the default): a fresh segment and fresh data directories under a name no one else uses
// ("bench-<pid>-<n>"), the node processes of this same binary started by the launcher's Supervisor, a
// leader elected. Everything it started goes away with it: nodes stopped (SIGTERM, then SIGKILL),
// segment removed, data directories deleted unless kept. Even if the bench process itself is killed, the
// nodes die with it (PR_SET_PDEATHSIG) and `shmraft clean` finds the segment stale.
//
// Attached (`shmraft bench --cluster NAME`): a cluster someone else runs (`shmraft up -c NAME`, perhaps
// with a node under perf or valgrind); nothing is started or stopped.
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/kit/bench_config.h"
#include "bench/kit/stop_flag.h"
#include "ipc/segment.h"
#include "ipc/wait.h"
#include "launcher/client/client_channel.h"
#include "launcher/cluster_dirs.h"

namespace shmraft::launcher {
class Supervisor;
}  // namespace shmraft::launcher

namespace shmraft::bench {

struct ClusterSpec {
  std::string attach_to;            // non-empty: drive this running cluster instead of starting one
  std::filesystem::path data_root;  // parent of the cluster's directory; empty: launcher::default_data_base()
  std::vector<std::string> node_args;  // further `node` flags
  bool keep_data = false;
  uint32_t spin_us = ipc::kDefaultSpinUs;  // the nodes' adaptive spin
};

class BenchCluster {
 public:
  // Starts the cluster for `config` (nodes, fsync, wait, transport; under config.in_leader every node
  // with the load to run once it leads, see in_leader_node.h) and waits for a leader — or attaches
  // to spec.attach_to. Returns nullptr if `stop` was raised meanwhile (after cleaning up). Throws
  // launcher::LauncherError when a node does not start or no leader is elected within 30 s (with the
  // node's last output line), or when there is no such running cluster to attach to.
  static std::unique_ptr<BenchCluster> start(const BenchConfig& config, const ipc::SegmentConfig& segment,
                                             const ClusterSpec& spec, const StopFlag& stop);
  ~BenchCluster();
  BenchCluster(const BenchCluster&) = delete;
  BenchCluster& operator=(const BenchCluster&) = delete;

  const std::string& name() const noexcept { return name_; }
  std::size_t segment_bytes() const noexcept { return segment_.size(); }
  // By node id, the initial voters 1..N; 0 for a node that is not running.
  std::vector<pid_t> node_pids() const;
  // Node `node`'s data directory (a cluster this benchmark started; empty path for an attached one).
  std::filesystem::path node_dir(uint32_t node) const;
  // One line per node that exited since the last call, e.g. "node 1 exited (killed by SIGSEGV)".
  std::vector<std::string> take_exited_nodes();

  // The cluster's segment: its counters and leader record.
  ipc::Segment& segment() noexcept { return segment_; }
  // Sends `signal` to the node process `pid` of a cluster this benchmark started (`shmraft bench
  // --failover`). SIGKILL also reaps it: an exit the benchmark caused is not one take_exited_nodes()
  // reports. Throws launcher::LauncherError for an attached cluster or a pid that is not one of its nodes.
  void signal_node(pid_t pid, int signal);
  // Starts again the node whose process `killed` signal_node() SIGKILLed; returns the new pid. If
  // `isolated`, it starts on a CPU of its own — the other nodes' loops and this process's threads on the
  // rest, the other nodes' background threads with it — until end_start_isolation()
  // (launcher/start_isolation.h), or until the node ends.
  pid_t restart_node(pid_t killed, bool isolated);
  void end_start_isolation();
  // A node joining the cluster this benchmark started (`shmraft bench --reconfigure add`): its data
  // directory (0700) is stamped with the cluster's identity if new, and its process started; returns the
  // pid. It is a member only once the leader adds it. Throws launcher::LauncherError as signal_node().
  pid_t start_joining_node(uint32_t node);
  // Stops (SIGTERM, then SIGKILL) the process of `node`, e.g. once its removal has committed.
  void stop_node(uint32_t node);

 private:
  BenchCluster(std::string name, ipc::Segment segment, std::optional<launcher::ClusterDirs> dirs,
               ipc::ClusterId id, bool keep_data);
  launcher::Supervisor& own_supervisor();
  // The last line node `node` printed (its crash message), or "" if it printed nothing.
  std::string last_output_line(uint32_t node) const;

  std::string name_;
  ipc::Segment segment_;
  std::optional<launcher::ClusterDirs> dirs_;  // started clusters only
  ipc::ClusterId id_{};                        // started clusters: stamped on their node directories
  bool keep_data_ = false;
  std::unique_ptr<launcher::Supervisor> supervisor_;  // started clusters only
  std::vector<pid_t> attached_pids_;                  // attached clusters: the nodes' pids at attach time
  std::map<pid_t, uint32_t> killed_;  // signal_node(SIGKILL): the supervisor's node of each pid
};

// `config` adapted to the running cluster `name`: its node count and transport (a node publishes a TCP
// port only under --transport tcp). Throws launcher::LauncherError when there is no such running cluster,
// std::invalid_argument when it has too few client slots or client rings too small for the pipeline.
BenchConfig config_for_running_cluster(const std::string& name, BenchConfig config);

// How every client of the benchmark's cluster must speak (`--transport`): the nodes of a TCP cluster
// read no client ring, so a shared-memory client there is never answered.
client::TransportKind client_transport(const BenchConfig& config) noexcept;

}  // namespace shmraft::bench
