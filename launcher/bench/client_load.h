#pragma once
// The load of one benchmark run: `clients` threads in this process, each with its own AsyncClient (its
// own client slot, request and response rings, doorbell — or its own TCP connections), putting
// `payload`-byte values, closed loop (`pipeline` outstanding) or open loop (its share of `rate`).
//
// Why threads and not forked client processes: on 2 cores the client side competes with the nodes either
// way, and what it costs per operation is the same code path (a ring write, a doorbell, a futex wait).
// Separate processes would add an address-space switch (page-table reload, TLB refill) to every
// client↔client context switch — a cost of the benchmark's own arrangement, charged to the cluster's
// latency at high client counts — plus a pipe per client to bring the histograms back. Threads keep every
// cross-process hop of a commit (client → leader → followers → leader → client) real, since the nodes
// are separate processes, and the client's CPU is not counted as node CPU.
//
// Latency of one operation: closed loop, from just before submit() to the reply's arrival; open loop,
// from its intended send time (bench::OpenLoopSchedule), so a stall delays — and shows in — every
// operation due during it. Phases come from the node's timestamps in the reply (client_wire.h).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/kit/bench_config.h"
#include "bench/kit/report.h"
#include "bench/kit/run_loop.h"
#include "bench/kit/stop_flag.h"
#include "ipc/wait.h"
#include "launcher/client/async_client.h"

namespace shmraft::bench {

// Keys are "c<client>.<n>", n < kKeysPerClient: the KV map stays small while every put is a real write.
inline constexpr uint32_t kKeysPerClient = 1024;
inline constexpr uint32_t kMaxKeyBytes = 16;
inline constexpr uint32_t kMaxPipeline = 1024;  // the client library's limit on outstanding requests
inline constexpr const char* kLeaderPersistPhase = "leader_persist";

// Client `client`'s k-th key, k < kKeysPerClient: its operation n puts load_key(client, n % kKeysPerClient).
std::string load_key(uint32_t client, uint32_t k);

// Sees every operation of the load, e.g. the fail-over benchmark's accounting. Called by the client
// threads, each with its own `client` index, so per-client state needs no lock.
class LoadObserver {
 public:
  virtual ~LoadObserver() = default;
  // The client's operation `op` (its count, from 0) is about to be sent as `tag`; `value` may be
  // rewritten in place (same length).
  virtual void submitting(uint32_t client, uint32_t tag, uint64_t op, std::string& value) = 0;
  // `tag`'s operation, begun at `began_ns` (the latency's start), completed.
  virtual void completed(uint32_t client, uint32_t tag, uint64_t began_ns,
                         const client::Completion& done) = 0;
};

struct LoadResult {
  RunOutcome run;
  std::vector<NamedHistogram> phases;  // client_to_leader, leader_persist, replication, apply_to_client
  uint64_t failed_ops = 0;             // measured window: outcome unknown or rejected (not in `run`)
};

struct LoadSpec {
  std::chrono::nanoseconds progress_interval{0};          // 0: no progress lines
  RunLoop::ProgressSink progress;                         // gets the lines merged over the clients
  std::chrono::nanoseconds spin = ipc::kDefaultSpinTime;  // adaptive waiting: spin before sleeping
  // Called by the calling thread when the measured window starts and when it ends (or is cut short),
  // e.g. to meter the nodes' CPU over exactly that window. window_ended only follows window_started.
  std::function<void()> window_started;
  std::function<void()> window_ended;
  LoadObserver* observer = nullptr;  // not owned; nullptr: none
};

// Runs the load against the running cluster `cluster` for config.warmup + config.measure (less if
// `stop` is raised) and merges every client's figures. Throws what a client thread threw (e.g. the
// cluster's segment vanished), after stopping the others.
LoadResult run_client_load(const std::string& cluster, const BenchConfig& config, StopFlag& stop,
                           const LoadSpec& spec);

}  // namespace shmraft::bench
