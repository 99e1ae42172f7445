#pragma once
// `shmraft chaos`: a cluster under concurrent clients and a fault schedule, then the verdict.
//
//   1. create the cluster (fresh data directories), start the nodes, wait for a leader
//   2. for --duration: clients run (workload.h) while the nemesis kills, restarts and partitions, and
//      with --storage-faults damages a stopped node's files before its restart (storage_faults.h)
//      with --membership nodes join, leave, replace each other and leadership moves as well
//      (membership_nemesis.h)
//   3. stop the clients, heal, start every member, wait until every member of the leader's configuration
//      applied its whole log
//   4. stop the nodes (SIGTERM), read each member's KV state back from its data directory
//   5. check the history for linearizability, and each member's state against every acknowledged write
// Exit 0 only if both checks pass; otherwise what failed, where the data was kept, and the command that
// replays the seed.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ipc/layout.h"
#include "launcher/chaos/membership_nemesis.h"
#include "launcher/chaos/nemesis.h"
#include "launcher/chaos/workload.h"

namespace shmraft::launcher {

struct ChaosOptions {
  std::string cluster;   // default: chaos-<pid>-<n>, unused
  std::string data_dir;  // default: default_data_base()/<cluster>
  ipc::SegmentConfig segment;
  WorkloadOptions workload;
  NemesisOptions nemesis;
  MembershipNemesisOptions membership;  // interval 0: the members stay 1..N
  double duration_s = 30;
  std::optional<uint64_t> seed;
  std::string history_file;  // default: <data dir>/history.jsonl
  std::chrono::seconds converge_timeout{30};
  std::chrono::seconds check_timeout{120};
  bool keep_data = false;
  std::vector<std::string> node_args;
  bool partitions = false;          // as given on the command line (for the replay command)
  bool membership_changes = false;  // --membership (the command sets membership.interval 0 without it)
};

// The command line that replays `options` with `seed`.
std::string chaos_replay_command(const ChaosOptions& options, uint64_t seed);

// Returns the process exit code: 0 pass, 1 a check failed or the run could not complete, 130 interrupted.
int run_chaos(ChaosOptions options);

}  // namespace shmraft::launcher
