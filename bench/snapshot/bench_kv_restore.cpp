// bench_kv_restore: what a follower pays to restore a KV snapshot image it received, beside the time to
// write and flush the same bytes to a file on the same disk (the floor an install is held to). As the
// node's installer does, the image is restored on a thread of its own from the file mapped read-only;
// `populated` maps it with MAP_POPULATE, `faulted` lets the restore fault it in (the installer's way).
// Then fork() of the restored state machine: the pause the node loop pays for its next snapshot. And,
// as a guard on the hot path, apply's ns per put: new keys, and overwrites of 64 K keys' 16-byte values.
// Uses the state machine's public interface only, so the same source measures any version of it.
//
//   bench_kv_restore [--keys N] [--value-bytes B] [--runs R] [--dir D]
//
// Prints medians (and min/max) over R runs, interleaved, in milliseconds.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bench/snapshot/snapshot_bench_kit.h"
#include "ipc/clock.h"
#include "node/kv/state_machine.h"

namespace {

using shmraft::bench::Series;
using shmraft::ipc::monotonic_ns;

double ms_since(uint64_t start_ns) {
  return static_cast<double>(monotonic_ns() - start_ns) / 1e6;
}

[[noreturn]] void fail(const char* what, const std::filesystem::path& file) {
  std::perror((std::string(what) + " " + file.string()).c_str());
  std::exit(1);
}

// Maps `file`, restores a state machine from it on a new thread and returns the time both took.
double restore_ms(const std::filesystem::path& file, std::size_t size, bool populate,
                  std::optional<shmraft::kv::StateMachine>& out) {
  const uint64_t start = monotonic_ns();
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open", file);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
  if (p == MAP_FAILED) fail("cannot map", file);
  ::madvise(p, size, MADV_SEQUENTIAL);
  std::thread restorer([&] {
    out.emplace();
    out->restore(std::span(static_cast<const std::byte*>(p), size));
  });
  restorer.join();
  ::munmap(p, size);
  ::close(fd);
  return ms_since(start);
}

// How long fork() holds the caller; the child exits at once.
double fork_ms() {
  const uint64_t start = monotonic_ns();
  const pid_t pid = ::fork();
  if (pid == 0) _exit(0);
  const double ms = ms_since(start);
  ::waitpid(pid, nullptr, 0);
  return ms;
}

shmraft::kv::Command put_of(const std::string& key, const std::string& value) {
  shmraft::kv::Command put;
  put.op = shmraft::kv::Op::put;
  put.key = key;
  put.value = value;
  return put;
}

// ns per put of `puts` overwrites spread over 64 K keys of 16-byte values, once all exist.
double overwrite_ns(uint64_t puts) {
  constexpr uint64_t kKeys = 65'536;
  std::vector<std::string> keys;
  for (uint64_t i = 0; i < kKeys; ++i) keys.push_back("key" + std::to_string(i));
  const std::string value(16, 'v');
  shmraft::kv::StateMachine kv;
  uint64_t index = 0;
  for (const std::string& key : keys) kv.apply(++index, put_of(key, value));
  const uint64_t start = monotonic_ns();
  for (uint64_t i = 0; i < puts; ++i) kv.apply(++index, put_of(keys[(i * 40'503) % kKeys], value));
  return static_cast<double>(monotonic_ns() - start) / static_cast<double>(puts);
}

}  // namespace

int main(int argc, char** argv) {
  const shmraft::bench::ImageArgs args = shmraft::bench::parse_image_args(
      argc, argv, "bench_kv_restore", {.keys = 131'072, .value_bytes = 8192}, false);
  std::vector<std::byte> image;
  Series source_fork{"fork() of the state built by apply", {}};
  Series new_keys{"apply: ns per put of a new key (once)", {}};
  Series overwrites{"apply: ns per overwrite, 64 K keys, 16 B", {}};
  {
    shmraft::kv::StateMachine kv;
    const std::string value(args.value_bytes, 'v');
    const uint64_t start = monotonic_ns();
    for (uint64_t i = 0; i < args.keys; ++i)
      kv.apply(i + 1, put_of("key" + std::to_string(i * 2654435761u % (args.keys * 4)), value));
    new_keys.values.push_back(static_cast<double>(monotonic_ns() - start) / static_cast<double>(args.keys));
    for (int run = 0; run < args.runs; ++run) source_fork.values.push_back(fork_ms());
    image = kv.snapshot();
  }
  std::printf("bench_kv_restore: %llu keys, %zu-byte values, image %.1f MiB, %d runs, dir %s\n",
              static_cast<unsigned long long>(args.keys), args.value_bytes,
              static_cast<double>(image.size()) / (1 << 20), args.runs, args.dir.c_str());

  // From here the image is the file, mapped shared: fork() copies no page table of it, so the fork
  // below times the restored state alone.
  const std::filesystem::path file = args.dir / "bench-kv-restore.img";
  const std::filesystem::path floor_file = args.dir / "bench-kv-restore.floor";
  shmraft::bench::write_and_flush_us(file, image);  // kept: the image the runs restore
  const std::size_t image_bytes = image.size();
  std::vector<std::byte>().swap(image);
  const int image_fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  void* mapped = image_fd < 0 ? MAP_FAILED : ::mmap(nullptr, image_bytes, PROT_READ, MAP_SHARED, image_fd, 0);
  if (mapped == MAP_FAILED) fail("cannot map", file);
  const std::span<const std::byte> image_view(static_cast<const std::byte*>(mapped), image_bytes);
  Series floor{"floor: write+fdatasync of the image bytes", {}};
  Series populated{"restore, image mapped populated", {}};
  Series faulted{"restore, image faulted in", {}};
  Series restored_fork{"fork() of the restored state", {}};
  for (int run = 0; run < args.runs; ++run) {
    floor.values.push_back(shmraft::bench::write_and_flush_us(floor_file, image_view) / 1000);
    std::filesystem::remove(floor_file);
    std::optional<shmraft::kv::StateMachine> kv;
    // Alternate which goes first, so neither always follows the other's frees.
    for (const bool populate : {run % 2 == 0, run % 2 != 0}) {
      kv.reset();
      (populate ? populated : faulted).values.push_back(restore_ms(file, image_bytes, populate, kv));
    }
    if (!std::ranges::equal(kv->snapshot(), image_view)) {
      std::fprintf(stderr, "the restored state differs from the image\n");
      return 1;
    }
    restored_fork.values.push_back(fork_ms());
    overwrites.values.push_back(overwrite_ns(4'000'000));
  }
  ::munmap(mapped, image_bytes);
  ::close(image_fd);
  std::filesystem::remove(file);
  for (Series* s : {&floor, &populated, &faulted, &restored_fork, &source_fork}) s->print();
  std::printf("  (in ns, not ms:)\n");
  for (Series* s : {&new_keys, &overwrites}) s->print();
  return 0;
}
