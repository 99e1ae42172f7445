#include "launcher/bench/device_flush.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "bench/kit/clock.h"

namespace shmraft::bench {

namespace {

constexpr std::size_t kFileBytes = std::size_t{1} << 20;
constexpr std::size_t kPage = 4096;
constexpr uint64_t kWarmupRounds = 5;

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
  unlink(path.c_str());  // gone whatever happens; the mapping keeps it alive
  if (ftruncate(fd, kFileBytes) != 0) {
    close(fd);
    fail("cannot size", path);
  }
  void* mapped = mmap(nullptr, kFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (mapped == MAP_FAILED) fail("cannot map", path);
  auto* bytes = static_cast<std::byte*>(mapped);
  const uint64_t deadline = monotonic_ns() + static_cast<uint64_t>(spec.max_duration.count());
  for (uint64_t round = 0; round < kWarmupRounds + spec.rounds && monotonic_ns() < deadline; ++round) {
    // A log entry's worth of bytes into the next page, as an append would dirty it.
    std::byte* page = bytes + (round * kPage) % kFileBytes;
    std::memset(page, static_cast<int>(round), 64);
    const uint64_t start = monotonic_ns();
    if (msync(page, kPage, MS_SYNC) != 0) {
      munmap(mapped, kFileBytes);
      fail("cannot msync", path);
    }
    if (round >= kWarmupRounds) result.latency.record(monotonic_ns() - start);
  }
  munmap(mapped, kFileBytes);
  return result;
}

}  // namespace shmraft::bench
