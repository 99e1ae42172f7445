// bench_apply_after_fork: what a snapshot's fork costs the node loop after the fork returns. Every page
// of anonymous memory the loop writes while the snapshot child holds it is a copy-on-write fault (15-50 us
// on this VM), and the KV table and its values are anonymous memory. The loop's work is modelled as a
// `bench --clients 64` load does it: puts of `--value-bytes` to the 64 clients' own keys (`--keys` in
// all), each through its client's session, applied in batches of 64. One pass over `--passes` × keys
// puts is timed right after a real snapshot child was forked (ForkedSnapshot: it serialises and writes
// the image to `--dir` meanwhile), and one with no child, interleaved, `--runs` times.
//
//   bench_apply_after_fork [--keys N] [--value-bytes B] [--runs R] [--dir D]
//
// Prints the median over runs of the loop's pause to fork and, per case: the pass's time, its slowest
// batch, its batches over 1 ms, and the minor faults the applying thread took.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/snapshot/snapshot_bench_kit.h"
#include "ipc/clock.h"
#include "node/kv/command.h"
#include "node/kv/state_machine.h"
#include "node/process/forked_snapshot.h"
#include "node/storage/node_storage.h"

namespace {

using shmraft::bench::Series;
using shmraft::ipc::monotonic_ns;

constexpr uint64_t kClients = 64;
constexpr std::size_t kBatch = 64;

// The calling thread's (the loop's): a thread copying pages for it counts its own.
long minor_faults() {
  struct rusage usage {};
  ::getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt;
}

struct Pass {
  double total_us = 0;
  double slowest_batch_us = 0;
  double batches_over_1ms = 0;
  double faults = 0;
};

// Applies `commands` in batches, from log index `index` on.
Pass apply_pass(shmraft::kv::StateMachine& kv, const std::vector<std::vector<std::byte>>& commands,
                uint64_t& index) {
  Pass pass;
  const long faults = minor_faults();
  const uint64_t start = monotonic_ns();
  for (std::size_t at = 0; at < commands.size(); at += kBatch) {
    const uint64_t batch_start = monotonic_ns();
    for (std::size_t i = at; i < std::min(at + kBatch, commands.size()); ++i) kv.apply(++index, commands[i]);
    const double us = static_cast<double>(monotonic_ns() - batch_start) / 1000;
    pass.slowest_batch_us = std::max(pass.slowest_batch_us, us);
    if (us > 1000) ++pass.batches_over_1ms;
  }
  pass.total_us = static_cast<double>(monotonic_ns() - start) / 1000;
  pass.faults = static_cast<double>(minor_faults() - faults);
  return pass;
}

}  // namespace

int main(int argc, char** argv) {
  const shmraft::bench::ImageArgs args = shmraft::bench::parse_image_args(
      argc, argv, "bench_apply_after_fork", {.keys = 65536, .value_bytes = 64, .runs = 5}, false);
  const uint64_t keys_per_client = std::max<uint64_t>(1, args.keys / kClients);
  std::vector<uint64_t> sequence(kClients, 0);
  std::mt19937_64 random(1);
  // Each command is encoded when its turn comes, by its client's next sequence number.
  const auto put = [&](uint64_t client, uint64_t key, char fill) {
    shmraft::kv::Command c;
    c.op = shmraft::kv::Op::put;
    c.client_id = client + 1;
    c.sequence = ++sequence[client];
    char name[48];
    const int length = std::snprintf(name, sizeof name, "c%luk%lu", static_cast<unsigned long>(client),
                                     static_cast<unsigned long>(key));
    const std::string value(args.value_bytes, fill);
    c.key = std::string_view(name, static_cast<std::size_t>(length));
    c.value = value;
    std::vector<std::byte> bytes(shmraft::kv::encoded_size(c));
    shmraft::kv::encode_command(c, bytes);
    return bytes;
  };
  shmraft::kv::StateMachine kv;
  uint64_t index = 0;
  for (uint64_t k = 0; k < keys_per_client; ++k)
    for (uint64_t client = 0; client < kClients; ++client) kv.apply(++index, put(client, k, 'a'));
  const auto pass_commands = [&](char fill) {
    std::vector<std::vector<std::byte>> commands;
    std::vector<uint64_t> order(keys_per_client * kClients);
    for (uint64_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), random);
    for (const uint64_t i : order) commands.push_back(put(i % kClients, i / kClients, fill));
    return commands;
  };
  std::printf(
      "bench_apply_after_fork: %zu keys of %zu bytes (%lu clients), image %.1f MiB, %d runs, dir %s\n",
      kv.size(), args.value_bytes, static_cast<unsigned long>(kClients),
      static_cast<double>(kv.snapshot_size()) / (1 << 20), args.runs, args.dir.c_str());

  const std::filesystem::path node_dir = args.dir / "bench-apply-after-fork-node";
  std::filesystem::remove_all(node_dir);
  shmraft::storage::NodeStorage storage(node_dir, {.segment_bytes = 1 << 20});
  Series pause{"the loop's pause to fork (ForkedSnapshot::fork_ns, us)", {}};
  Series forked_total{"after a fork: the pass (us)", {}};
  Series forked_slowest{"after a fork: its slowest batch (us)", {}};
  Series forked_over{"after a fork: batches over 1 ms", {}};
  Series forked_faults{"after a fork: minor faults", {}};
  Series plain_total{"no fork: the pass (us)", {}};
  Series plain_slowest{"no fork: its slowest batch (us)", {}};
  Series plain_over{"no fork: batches over 1 ms", {}};
  Series plain_faults{"no fork: minor faults", {}};
  for (int run = 0; run < args.runs; ++run) {
    std::vector<std::vector<std::byte>> commands = pass_commands(static_cast<char>('b' + run % 20));
    const Pass plain = apply_pass(kv, commands, index);
    plain_total.values.push_back(plain.total_us);
    plain_slowest.values.push_back(plain.slowest_batch_us);
    plain_over.values.push_back(plain.batches_over_1ms);
    plain_faults.values.push_back(plain.faults);

    commands = pass_commands(static_cast<char>('B' + run % 20));
    shmraft::node::ForkedSnapshot snapshot(storage.snapshot_staging_file(), storage.snapshot_file(), true);
    snapshot.start(kv, {.last_index = kv.applied_index(), .last_term = 1, .voters = 0b10});
    pause.values.push_back(static_cast<double>(snapshot.fork_ns()) / 1000);
    const Pass forked = apply_pass(kv, commands, index);
    forked_total.values.push_back(forked.total_us);
    forked_slowest.values.push_back(forked.slowest_batch_us);
    forked_over.values.push_back(forked.batches_over_1ms);
    forked_faults.values.push_back(forked.faults);
    using Status = shmraft::node::ForkedSnapshot::Status;
    Status status;
    while ((status = snapshot.poll()) == Status::kRunning)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (status != Status::kWritten) {
      std::fprintf(stderr, "the snapshot child failed (exit code %d)\n", snapshot.exit_code());
      return 1;
    }
    snapshot.cancel();  // its file is not installed: only the loop's cost is measured
  }
  for (Series* s : {&pause, &plain_total, &forked_total, &plain_slowest, &forked_slowest, &plain_over,
                    &forked_over, &plain_faults, &forked_faults})
    s->print();
  std::filesystem::remove_all(node_dir);
  return 0;
}
