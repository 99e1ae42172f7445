#include "node/storage/segment_preparer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include "node/storage/storage_error.h"

namespace shmraft::storage {
namespace {
constexpr std::size_t kPageBytes = 4096;

// Spread over ~1 s: a 64 MiB segment lasts ~2.5 s at 250 K small entries/s, and the touch done in one
// burst (~16 K faults, 60-200 ms of a core) raised the 64-client p99.9 without snapshots (3.7 / 8.0 ->
// 11.3 / 11.2 ms, load 6-7) on the 2-vCPU host, where it competes with the loops.
constexpr std::size_t kTouchStepBytes = std::size_t{256} << 10;
constexpr std::chrono::milliseconds kTouchStepPause{4};

// Stores a zero (what the page holds: the file is preallocated, never written) into each page: the loop
// then finds the page in the page cache, mapped writable and dirty. A store's fault holds only the
// mapping's own lock; MADV_POPULATE_WRITE holds the process's mmap lock, for which the loop's mmap and
// munmap and a snapshot's fork() wait, and a thread descheduled while holding it can stall the loop (at
// nice 19 on the loaded host: ~1 s stalls and two elections in a 64-client run, most likely that).
void touch_for_writing(std::byte* pages, std::size_t bytes, const std::atomic<bool>& stop) noexcept {
  for (std::size_t step = 0; step < bytes && !stop.load(std::memory_order_relaxed); step += kTouchStepBytes) {
    if (step > 0) std::this_thread::sleep_for(kTouchStepPause);
    for (std::size_t offset = step; offset < std::min(bytes, step + kTouchStepBytes); offset += kPageBytes)
      reinterpret_cast<volatile std::byte*>(pages)[offset] = std::byte{0};
  }
}
}  // namespace

SegmentPreparer::~SegmentPreparer() {
  {
    const std::lock_guard lock(mutex_);
    stopping_.store(true, std::memory_order_relaxed);
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (spare_) ::unlink(spare_->path.c_str());
}

std::optional<SpareSegment> SegmentPreparer::take() {
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock) return std::nullopt;  // the thread is handing over a spare this very moment
  std::optional<SpareSegment> spare = std::exchange(spare_, std::nullopt);
  wanted_ = true;
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  lock.unlock();
  wake_.notify_one();
  return spare;
}

bool SegmentPreparer::ready() {
  const std::lock_guard lock(mutex_);
  return spare_.has_value();
}

void SegmentPreparer::run() {
  uint64_t made = 0;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_.load(std::memory_order_relaxed) || (wanted_ && !spare_); });
    if (stopping_.load(std::memory_order_relaxed)) return;
    wanted_ = false;
    lock.unlock();
    std::optional<SpareSegment> spare;
    try {
      spare = prepare(++made);
    } catch (const StorageError&) {
      // A full disk, say: the loop creates the segment itself and reports what fails there.
    }
    lock.lock();
    if (spare && stopping_.load(std::memory_order_relaxed))
      ::unlink(spare->path.c_str());
    else
      spare_ = std::move(spare);
  }
}

SpareSegment SegmentPreparer::prepare(uint64_t number) const {
  // Named by a count of this object's own: the previous spare may still be on its way to its real name.
  const std::filesystem::path path = log_dir_ / ("spare-" + std::to_string(number) + ".tmp");
  UniqueFd fd = open_file(path, O_RDWR | O_CREAT | O_EXCL);
  try {
    preallocate(fd.get(), segment_bytes_, path);  // made durable with the header, by the roll's flush
    Mapping mapping(fd.get(), segment_bytes_, path);
    touch_for_writing(mapping.data(), segment_bytes_, stopping_);
    return SpareSegment{path, std::move(fd), std::move(mapping)};
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
}

}  // namespace shmraft::storage
