// bench_core: the Raft core alone. Three cores in one process over a zero-cost in-memory transport
// (InMemoryCluster); each benchmark iteration proposes `batch` 64-byte entries at the leader and runs the
// cluster until they are committed and applied on every node. Reports committed entries per second (of
// CPU time, and of wall-clock time) and heap allocations per committed entry on the steady-state path
// (after a warm-up that grows every buffer to its working size; the target is 0).
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "bench/core/allocation_counter.h"
#include "bench/core/in_memory_cluster.h"

namespace shmraft::bench {
namespace {

constexpr std::size_t kEntryBytes = 64;
constexpr std::uint64_t kCompactEvery = 1 << 14;  // entries between log compactions
constexpr std::uint64_t kWarmUpEntries = 4 * kCompactEvery;

raft::Config bench_config() {
  raft::Config config;
  config.seed = 1;
  config.max_msg_bytes = 1 << 20;
  config.max_inflight_msgs = 256;
  config.max_committed_bytes = 64 << 20;
  return config;
}

void BM_CoreCommit(benchmark::State& state) {
  const auto batch = static_cast<std::uint64_t>(state.range(0));
  const std::uint64_t allocations_at_start = allocation_count();
  InMemoryCluster cluster(3, bench_config());
  cluster.elect(1);
  raft::Core& leader = cluster.core(1);

  std::array<std::byte, kEntryBytes> payload;
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::byte>(i);
  std::uint64_t since_compaction = 0;
  auto commit_one_batch = [&] {
    for (std::uint64_t i = 0; i < batch; ++i) {
      payload.back() = static_cast<std::byte>(i);
      if (leader.propose(payload).status != raft::Status::kOk) return false;
    }
    cluster.run_until_quiet();
    since_compaction += batch;
    if (since_compaction >= kCompactEvery) {
      cluster.compact();
      since_compaction = 0;
    }
    return true;
  };

  for (std::uint64_t done = 0; done < kWarmUpEntries; done += batch) {
    if (!commit_one_batch()) {
      state.SkipWithError("the leader refused a proposal during warm-up");
      return;
    }
  }
  const std::uint64_t applied_before = cluster.applied_entries(1);
  const std::uint64_t allocations_before = allocation_count();
  const auto wall_start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    if (!commit_one_batch()) {
      state.SkipWithError("the leader refused a proposal");
      return;
    }
  }
  const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - wall_start;
  const std::uint64_t allocations = allocation_count() - allocations_before;
  const std::uint64_t entries = cluster.applied_entries(1) - applied_before;
  if (entries != batch * state.iterations()) {
    state.SkipWithError(
        ("only " + std::to_string(entries) + " of the proposed entries were applied").c_str());
    return;
  }
  for (raft::NodeId id = 2; id <= 3; ++id) {
    if (cluster.applied_entries(id) != cluster.applied_entries(1) ||
        cluster.payload_checksum(id) != cluster.payload_checksum(1)) {
      state.SkipWithError("a follower's state machine differs from the leader's");
      return;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(entries));
  state.SetBytesProcessed(static_cast<std::int64_t>(entries * kEntryBytes));
  // Per second of this thread's CPU time (the core's own cost), and per second of wall-clock time (which
  // on a shared machine also counts the time other processes held the CPU).
  state.counters["entries_per_s"] =
      benchmark::Counter(static_cast<double>(entries), benchmark::Counter::kIsRate);
  state.counters["entries_per_wall_s"] = static_cast<double>(entries) / wall.count();
  state.counters["allocs_per_entry"] = static_cast<double>(allocations) / static_cast<double>(entries);
  // Shows the counter is live: setting up and warming up the cluster does allocate.
  state.counters["warmup_allocs"] = static_cast<double>(allocations_before - allocations_at_start);
}
BENCHMARK(BM_CoreCommit)->ArgName("batch")->Arg(1)->Arg(16)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace shmraft::bench

BENCHMARK_MAIN();
