#include "launcher/bench/device_flush.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "ipc/clock.h"

namespace shmraft::bench {

namespace {

constexpr std::size_t kFileBytes = std::size_t{16} << 20;
constexpr std::size_t kPage = 4096;
// Flushes are measurably cheaper for a while after the file's creation was made durable (on the 2-core
// VM this project is measured on: ~70 µs for the first ~40 ms, ~90 µs from then on, for as long as one
// cares to run). A node flushes its log for seconds, so the probe appends and flushes unrecorded until
// that phase is surely over, and records the steady state the node's flushes see.
constexpr std::chrono::milliseconds kWarmup{250};

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw std::system_error(errno, std::generic_category(), what + " " + path);
}

}  // namespace

FlushResult measure_device_flush(const FlushSpec& spec) {
  FlushResult result{spec, Histogram(2)};
  std::filesystem::create_directories(spec.dir);
  std::string path = (spec.dir / "flush-probe-XXXXXX").string();
  const int fd = mkstemp(path.data());  // mode 0600
  if (fd < 0) fail("cannot create", path);
  // Preallocated like the node's log segments, so a flush costs what the log's costs: mostly data, and a
  // journal commit whenever a write first touches a preallocated block.
  if (fallocate(fd, 0, 0, kFileBytes) != 0 || fdatasync(fd) != 0) {
    close(fd);
    unlink(path.c_str());
    fail("cannot preallocate", path);
  }
  // And its directory entry made durable, as the storage does before a segment takes records: otherwise
  // the first flushes would also commit the file's creation.
  if (const int dir = open(spec.dir.c_str(), O_RDONLY | O_DIRECTORY); dir >= 0) {
    fsync(dir);
    close(dir);
  }
  void* mapped = mmap(nullptr, kFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (mapped == MAP_FAILED) {
    unlink(path.c_str());
    fail("cannot map", path);
  }
  auto* bytes = static_cast<std::byte*>(mapped);
  const uint64_t warm_until = ipc::monotonic_ns() + static_cast<uint64_t>(kWarmup.count()) * 1'000'000;
  const uint64_t deadline = warm_until + static_cast<uint64_t>(spec.max_duration.count());
  const std::size_t record = (spec.record_bytes + 7) & ~std::size_t{7};  // the log's 8-byte alignment
  std::size_t offset = 0;
  for (uint64_t round = 0; result.latency.count() < spec.rounds && ipc::monotonic_ns() < deadline; ++round) {
    if (offset + record > kFileBytes) offset = 0;
    std::memset(bytes + offset, static_cast<int>(round) | 1, record);
    const std::size_t first_page = offset / kPage * kPage;
    const std::size_t end = offset + record;
    offset = end;
    const uint64_t start = ipc::monotonic_ns();
    if (msync(bytes + first_page, end - first_page, MS_SYNC) != 0) {
      munmap(mapped, kFileBytes);
      unlink(path.c_str());
      fail("cannot msync", path);
    }
    if (start >= warm_until) result.latency.record(ipc::monotonic_ns() - start);
  }
  munmap(mapped, kFileBytes);
  // Removed only now: unlinking an open file is a metadata change each later flush would have to commit.
  unlink(path.c_str());
  return result;
}

}  // namespace shmraft::bench
