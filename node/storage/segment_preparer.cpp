#include "node/storage/segment_preparer.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "node/storage/storage_error.h"

namespace shmraft::storage {
namespace {
constexpr std::size_t kPageBytes = 4096;

// Stores a zero (what the page holds: the file is preallocated, never written) into each page: the loop
// then finds the page in the page cache, mapped writable and dirty. A store's fault holds only the
// mapping's own lock; MADV_POPULATE_WRITE holds the process's mmap lock, for which the loop's mmap and
// munmap and a snapshot's fork() wait, and a thread descheduled while holding it can stall the loop (at
// nice 19 on the loaded host: ~1 s stalls and two elections in a 64-client run; at nice 0, fork pauses of
// 35 and 53 ms among 14, not proven to be this).
void touch_for_writing(std::byte* pages, std::size_t bytes, const std::atomic<bool>& stop) noexcept {
  for (std::size_t offset = 0; offset < bytes && !stop.load(std::memory_order_relaxed); offset += kPageBytes)
    reinterpret_cast<volatile std::byte*>(pages)[offset] = std::byte{0};
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
