#pragma once
// The load of one benchmark run: `clients` logical clients, each an AsyncClient with its own client slot,
// session and outstanding window (its own request and response rings — or its own TCP connections),
// driven by `client_threads` threads in this process, each an event loop over its share of the clients
// (client::ClientGroup): over shared memory a loop sleeps on one doorbell that the nodes ring for any of
// its clients' replies. Each client sends gets (fraction `reads`) and puts of `payload`-byte values
// (OperationMix), closed loop (`pipeline` outstanding) or open loop (its share of `rate`).
//
// Why few threads: on 2 cores a thread per client makes the scheduler, not the cluster, set the figures
// past a handful of clients (64 client threads fight 3 nodes for the cores). Why threads and not forked
// client processes: a process switch adds a page-table reload to every client↔client switch, a cost of
// the benchmark's own arrangement; the nodes are separate processes, so every cross-process hop of a
// commit (client → leader → followers → leader → client) stays real, and the client's CPU is not
// counted as node CPU.
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
#include "bench/kit/resources.h"
#include "bench/kit/run_loop.h"
#include "bench/kit/stop_flag.h"
#include "ipc/wait.h"
#include "launcher/bench/operation_mix.h"
#include "launcher/client/async_client.h"

namespace shmraft::bench {

inline constexpr uint32_t kMaxPipeline = 1024;  // the client library's limit on outstanding requests
inline constexpr const char* kLeaderPersistPhase = "leader_persist";

// Sees every operation of the load, e.g. the fail-over benchmark's accounting. Called by the client
// threads, each client always from the same thread, so per-client state needs no lock.
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
  std::vector<NamedHistogram> phases;        // client_to_leader, leader_persist, replication, apply_to_client
  std::vector<OperationOutcome> operations;  // "writes", "reads": when the load mixes them
  uint64_t failed_ops = 0;                   // measured window: outcome unknown or rejected (not in `run`)
  // Measured window: operations sent more than once (an attempt timed out, or a node redirected it), each
  // a duplicate in some node's queue — without a session a put the cluster may apply twice.
  uint64_t resent_ops = 0;
  CpuTimes client_thread_cpu;  // the client threads' own CPU over the measured window
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
// `stop` is raised) and merges every client's figures. config.client_threads must be chosen (1..clients).
// Throws what a client thread threw (e.g. the cluster's segment vanished), after stopping the others.
LoadResult run_client_load(const std::string& cluster, const BenchConfig& config, StopFlag& stop,
                           const LoadSpec& spec);

}  // namespace shmraft::bench
