#include "node/storage/segment_preparer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>

#include "node/storage/storage_error.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; an older kernel refuses it, and the loop faults as before
#endif

namespace shmraft::storage {
namespace {
// A step of populating holds the mmap lock (read), which the loop's own mmap of a segment, and a snapshot's
// fork, wait for.
constexpr std::size_t kPopulateStepBytes = std::size_t{1} << 20;
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
  // Nice 19: a spare is wanted only at the next roll, seconds away, and within the node's process group the
  // loop must win every contest for a core. Best effort.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
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
    for (std::size_t done = 0; done < segment_bytes_ && !stopping_.load(std::memory_order_relaxed);
         done += kPopulateStepBytes) {
      ::madvise(mapping.data() + done, std::min(kPopulateStepBytes, segment_bytes_ - done),
                MADV_POPULATE_WRITE);
    }
    return SpareSegment{path, std::move(fd), std::move(mapping)};
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
}

}  // namespace shmraft::storage
