#include "launcher/bench/device_flush.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

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

[[noreturn]] void fail(int error, const std::string& what, const std::string& path) {
  throw std::system_error(error, std::generic_category(), what + " " + path);
}

// One copy: a scratch file prepared like a log segment, appended to and flushed like one.
class ScratchLog {
 public:
  ScratchLog(const std::filesystem::path& dir, uint32_t record_bytes)
      : path_((dir / "flush-probe-XXXXXX").string()),
        record_((record_bytes + 7) & ~std::size_t{7}) {  // the log's 8-byte alignment
    const int fd = mkstemp(path_.data());                // mode 0600
    if (fd < 0) fail(errno, "cannot create", path_);
    // Preallocated like the node's log segments, so a flush costs what the log's costs: mostly data, and
    // a journal commit whenever a write first touches a preallocated block.
    if (fallocate(fd, 0, 0, kFileBytes) != 0 || fdatasync(fd) != 0) {
      const int error = errno;
      close(fd);
      unlink(path_.c_str());
      fail(error, "cannot preallocate", path_);
    }
    void* mapped = mmap(nullptr, kFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int error = errno;
    close(fd);
    if (mapped == MAP_FAILED) {
      unlink(path_.c_str());
      fail(error, "cannot map", path_);
    }
    bytes_ = static_cast<std::byte*>(mapped);
  }
  ~ScratchLog() {
    munmap(bytes_, kFileBytes);
    // Removed only now: unlinking an open file is a metadata change each later flush would have to commit.
    unlink(path_.c_str());
  }
  ScratchLog(const ScratchLog&) = delete;
  ScratchLog& operator=(const ScratchLog&) = delete;

  // Appends one record and msyncs the pages it touched; errno on failure, else 0.
  int append_durably(uint64_t round) noexcept {
    if (offset_ + record_ > kFileBytes) offset_ = 0;
    std::memset(bytes_ + offset_, static_cast<int>(round) | 1, record_);
    const std::size_t first_page = offset_ / kPage * kPage;
    offset_ += record_;
    return msync(bytes_ + first_page, offset_ - first_page, MS_SYNC) == 0 ? 0 : errno;
  }
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
  std::size_t record_;
  std::byte* bytes_ = nullptr;
  std::size_t offset_ = 0;
};

}  // namespace

FlushResult measure_device_flush(const FlushSpec& spec) {
  FlushResult result{spec, Histogram(2)};
  std::filesystem::create_directories(spec.dir);
  const std::size_t copies = std::max<uint32_t>(1, spec.copies);
  std::vector<std::unique_ptr<ScratchLog>> logs;
  for (std::size_t c = 0; c < copies; ++c)
    logs.push_back(std::make_unique<ScratchLog>(spec.dir, spec.record_bytes));
  // And the directory entries made durable, as the storage does before a segment takes records:
  // otherwise the first flushes would also commit the files' creation.
  if (const int dir = open(spec.dir.c_str(), O_RDONLY | O_DIRECTORY); dir >= 0) {
    fsync(dir);
    close(dir);
  }

  // Each round every copy's thread stamps its start, appends durably and stamps its end; the main thread
  // releases the round and reads the stamps when all are done.
  std::vector<uint64_t> started(copies), ended(copies);
  std::vector<int> errors(copies, 0);
  std::atomic<bool> stop{false};
  uint64_t round = 0;
  std::barrier go(static_cast<std::ptrdiff_t>(copies + 1));
  std::barrier done(static_cast<std::ptrdiff_t>(copies + 1));
  std::vector<std::jthread> threads;
  for (std::size_t c = 0; c < copies; ++c) {
    threads.emplace_back([&, c] {
      for (;;) {
        go.arrive_and_wait();
        if (stop.load(std::memory_order_relaxed)) return;
        started[c] = ipc::monotonic_ns();
        if (errors[c] == 0) errors[c] = logs[c]->append_durably(round);
        ended[c] = ipc::monotonic_ns();
        done.arrive_and_wait();
      }
    });
  }
  const uint64_t warm_until = ipc::monotonic_ns() + static_cast<uint64_t>(kWarmup.count()) * 1'000'000;
  const uint64_t deadline = warm_until + static_cast<uint64_t>(spec.max_duration.count());
  std::vector<uint64_t> ends(copies);
  int error = 0;
  std::string failed_path;
  while (result.latency.count() < spec.rounds && ipc::monotonic_ns() < deadline) {
    go.arrive_and_wait();
    done.arrive_and_wait();
    ++round;
    for (std::size_t c = 0; c < copies && error == 0; ++c) {
      if (errors[c] == 0) continue;
      error = errors[c];
      failed_path = logs[c]->path();
    }
    if (error != 0) break;
    const uint64_t first_start = *std::min_element(started.begin(), started.end());
    if (first_start < warm_until) continue;
    ends = ended;
    std::nth_element(ends.begin(), ends.begin() + static_cast<std::ptrdiff_t>(copies / 2), ends.end());
    result.latency.record(ends[copies / 2] - first_start);  // the majority's last copy
  }
  stop.store(true, std::memory_order_relaxed);
  go.arrive_and_wait();
  threads.clear();  // joined
  if (error != 0) fail(error, "cannot msync", failed_path);
  return result;
}

}  // namespace shmraft::bench
