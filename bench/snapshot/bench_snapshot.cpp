// bench_snapshot: the node loop's pause for a KV snapshot, today's way (serialise on the loop, then store)
// beside a forked child's (the loop pays for fork(); the child serialises and flushes), at a given number
// of keys, with the floor of writing and flushing the same bytes to a file on the same disk.
//
//   bench_snapshot [--keys N] [--value-bytes B] [--runs R] [--dir D]
//
// Prints medians (and min/max) over R runs, interleaved (inline, fork, floor per run), in microseconds.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "ipc/clock.h"
#include "node/kv/state_machine.h"
#include "node/process/forked_snapshot.h"
#include "node/storage/file.h"

namespace {

using shmraft::ipc::monotonic_ns;

struct Args {
  uint64_t keys = 100'000;
  std::size_t value_bytes = 64;
  int runs = 5;
  std::filesystem::path dir = std::filesystem::temp_directory_path();
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--keys")
      a.keys = std::strtoull(v, nullptr, 10);
    else if (flag == "--value-bytes")
      a.value_bytes = std::strtoull(v, nullptr, 10);
    else if (flag == "--runs")
      a.runs = std::atoi(v);
    else if (flag == "--dir")
      a.dir = v;
    else {
      std::fprintf(
          stderr,
          "unknown flag %s\nusage: bench_snapshot [--keys N] [--value-bytes B] [--runs R] [--dir D]\n",
          flag.c_str());
      std::exit(2);
    }
  }
  return a;
}

struct Series {
  const char* name;
  std::vector<double> us;
  void print() {
    std::sort(us.begin(), us.end());
    std::printf("  %-44s median %10.0f   min %10.0f   max %10.0f\n", name, us[us.size() / 2], us.front(),
                us.back());
  }
};

// Today's store step and the floor: write the bytes to a fresh file and flush them.
double write_and_flush_us(const std::filesystem::path& file, std::span<const std::byte> bytes) {
  const uint64_t start = monotonic_ns();
  const shmraft::storage::UniqueFd fd = shmraft::storage::open_file(file, O_WRONLY | O_CREAT | O_TRUNC);
  shmraft::storage::write_all_at(fd.get(), bytes.data(), bytes.size(), 0, file);
  shmraft::storage::sync_file_data(fd.get(), file);
  const double us = static_cast<double>(monotonic_ns() - start) / 1000;
  std::filesystem::remove(file);
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
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
  const std::vector<std::byte> probe = kv.snapshot();
  std::printf("bench_snapshot: %zu keys, %zu-byte values, image %.1f MiB, %d runs, dir %s\n", kv.size(),
              args.value_bytes, static_cast<double>(probe.size()) / (1 << 20), args.runs, args.dir.c_str());

  Series serialise{"inline: serialise on the loop (pause)", {}};
  Series store{"inline: then store (write+fdatasync, pause)", {}};
  Series fork_pause{"fork: fork() on the loop (pause)", {}};
  Series child{"fork: child serialises+flushes (not a pause)", {}};
  Series floor{"floor: write+fdatasync of the image bytes", {}};
  const std::filesystem::path file = args.dir / "bench-snapshot.bin";
  for (int run = 0; run < args.runs; ++run) {
    uint64_t start = monotonic_ns();
    const std::vector<std::byte> image = kv.snapshot();
    serialise.us.push_back(static_cast<double>(monotonic_ns() - start) / 1000);
    store.us.push_back(write_and_flush_us(file, image));

    shmraft::node::ForkedSnapshot forked(args.dir / "bench-snapshot.image");
    forked.start(kv);
    fork_pause.us.push_back(static_cast<double>(forked.fork_ns()) / 1000);
    shmraft::node::ForkedSnapshot::Status status;
    while ((status = forked.poll()) == shmraft::node::ForkedSnapshot::Status::kRunning)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (status != shmraft::node::ForkedSnapshot::Status::kDone) {
      std::fprintf(stderr, "the snapshot child failed (exit code %d)\n", forked.exit_code());
      return 1;
    }
    child.us.push_back(static_cast<double>(monotonic_ns() - forked.started_ns()) / 1000);
    forked.finish();

    floor.us.push_back(write_and_flush_us(file, image));
  }
  for (Series* s : {&serialise, &store, &fork_pause, &child, &floor}) s->print();
  return 0;
}
