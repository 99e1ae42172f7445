// bench_snapshot: the node loop's pause for a KV snapshot at a given number of keys. The loop forks a
// child (the pause: fork() copying the page tables of the anonymous memory), the child serialises the
// state and writes the snapshot file whole (not a pause), the loop renames it into place (the pause; the
// child then fsyncs snap/ and frees the replaced file). Beside them, what the loop paid before every snapshot
// was forked (serialising on the loop, then writing and flushing the image) and the floor of writing and
// flushing the same bytes to a file on the same disk.
//
// --shared-mib M also maps a MAP_SHARED file of M MiB, every page touched (as the node maps its log
// segments and the shared segment), and times fork() with it mapped and with it MADV_DONTFORK.
//
//   bench_snapshot [--keys N] [--value-bytes B] [--runs R] [--dir D] [--shared-mib M]
//
// Prints medians (and min/max) over R runs, interleaved, in microseconds.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench/snapshot/snapshot_bench_kit.h"
#include "ipc/clock.h"
#include "node/kv/state_machine.h"
#include "node/process/forked_snapshot.h"
#include "node/storage/file.h"
#include "node/storage/node_storage.h"

namespace {

using shmraft::bench::Series;
using shmraft::ipc::monotonic_ns;

// How long fork() holds the caller; the child exits at once.
double fork_us() {
  const uint64_t start = monotonic_ns();
  const pid_t pid = ::fork();
  if (pid == 0) _exit(0);
  const double us = static_cast<double>(monotonic_ns() - start) / 1000;
  ::waitpid(pid, nullptr, 0);
  return us;
}

// A MAP_SHARED file of `mib` MiB with every page touched, like the node's log segments and shared segment.
struct SharedMapping {
  shmraft::storage::UniqueFd fd;
  shmraft::storage::Mapping mapping;
  SharedMapping(const std::filesystem::path& file, std::size_t mib)
      : fd(shmraft::storage::open_file(file, O_RDWR | O_CREAT | O_TRUNC)) {
    if (::ftruncate(fd.get(), static_cast<off_t>(mib << 20)) != 0) std::exit(1);
    mapping = shmraft::storage::Mapping(fd.get(), mib << 20, file);
    for (std::size_t i = 0; i < mapping.size(); i += 4096) mapping.data()[i] = std::byte{1};
    std::filesystem::remove(file);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const shmraft::bench::ImageArgs args =
      shmraft::bench::parse_image_args(argc, argv, "bench_snapshot", {}, true);
  shmraft::kv::StateMachine kv;
  const std::string value(args.value_bytes, 'v');
  for (uint64_t i = 0; i < args.keys; ++i) {
    shmraft::kv::Command put;
    put.op = shmraft::kv::Op::put;
    const std::string key = "key" + std::to_string(i * 2654435761u % (args.keys * 4));
    put.key = key;
    put.value = value;
    kv.apply(i + 1, put);
  }
  // Not a whole image held meanwhile: its 4 KiB pages would lengthen every fork() timed below.
  std::printf("bench_snapshot: %zu keys, %zu-byte values, image %.1f MiB, %d runs, dir %s\n", kv.size(),
              args.value_bytes, static_cast<double>(kv.snapshot_size()) / (1 << 20), args.runs,
              args.dir.c_str());

  const std::filesystem::path node_dir = args.dir / "bench-snapshot-node";
  std::filesystem::remove_all(node_dir);
  shmraft::storage::NodeStorage storage(node_dir, {.segment_bytes = 1 << 20});  // durability batch
  Series fork_pause{"now: fork() on the loop (pause)", {}};
  Series child{"now: child serialises, writes, flushes (not a pause)", {}};
  Series install{"now: rename into place (pause)", {}};
  Series child_cpu{"now: the child's CPU, user + system", {}};
  Series serialise{"before: serialise on the loop (pause)", {}};
  Series store{"before: then write+fdatasync on the loop (pause)", {}};
  Series floor{"floor: write+fdatasync of the image bytes", {}};
  const std::filesystem::path file = args.dir / "bench-snapshot.bin";
  for (int run = 0; run < args.runs; ++run) {
    shmraft::node::ForkedSnapshot forked(storage.snapshot_staging_file(), storage.snapshot_file(), true);
    const shmraft::storage::SnapshotMeta meta{
        .last_index = kv.applied_index() + static_cast<uint64_t>(run), .last_term = 1, .voters = 0b10};
    forked.start(kv, meta);
    fork_pause.values.push_back(static_cast<double>(forked.fork_ns()) / 1000);
    shmraft::node::ForkedSnapshot::Status status;
    while ((status = forked.poll()) == shmraft::node::ForkedSnapshot::Status::kRunning)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (status != shmraft::node::ForkedSnapshot::Status::kWritten) {
      std::fprintf(stderr, "the snapshot child failed (exit code %d)\n", forked.exit_code());
      return 1;
    }
    child.values.push_back(static_cast<double>(monotonic_ns() - forked.started_ns()) / 1000);
    uint64_t start = monotonic_ns();
    storage.install_snapshot_file(meta);
    install.values.push_back(static_cast<double>(monotonic_ns() - start) / 1000);
    forked.installed();
    while ((status = forked.poll()) == shmraft::node::ForkedSnapshot::Status::kRunning)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (status != shmraft::node::ForkedSnapshot::Status::kDone) {
      std::fprintf(stderr, "the snapshot child failed after the rename (exit code %d)\n", forked.exit_code());
      return 1;
    }
    child_cpu.values.push_back(static_cast<double>(forked.child_cpu_ns()) / 1000);

    start = monotonic_ns();
    const std::vector<std::byte> image = kv.snapshot();
    serialise.values.push_back(static_cast<double>(monotonic_ns() - start) / 1000);
    store.values.push_back(shmraft::bench::write_and_flush_us(file, image));
    std::filesystem::remove(file);
    floor.values.push_back(shmraft::bench::write_and_flush_us(file, image));
    std::filesystem::remove(file);
  }
  for (Series* s : {&fork_pause, &child, &child_cpu, &install, &serialise, &store, &floor}) s->print();
  std::filesystem::remove_all(node_dir);

  if (args.shared_mib == 0) return 0;
  const SharedMapping shared(args.dir / "bench-snapshot-shared.bin", args.shared_mib);
  Series with{"fork() with the shared mapping", {}};
  Series without{"fork() with it MADV_DONTFORK", {}};
  for (int run = 0; run < args.runs; ++run) {
    ::madvise(shared.mapping.data(), shared.mapping.size(), MADV_DOFORK);
    with.values.push_back(fork_us());
    ::madvise(shared.mapping.data(), shared.mapping.size(), MADV_DONTFORK);
    without.values.push_back(fork_us());
  }
  std::printf("%zu MiB MAP_SHARED, every page touched:\n", args.shared_mib);
  for (Series* s : {&with, &without}) s->print();
  return 0;
}
