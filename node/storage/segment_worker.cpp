#include "node/storage/segment_worker.h"

#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <utility>

namespace shmraft::storage {

namespace {
constexpr std::size_t kPageBytes = 4096;
// Pages faulted in between two looks at the queue: bounds how long a removed segment waits to be closed.
constexpr std::size_t kChunkBytes = 64 * kPageBytes;
}  // namespace

SegmentWorker::~SegmentWorker() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SegmentWorker::start_locked() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void SegmentWorker::close_later(Segment&& segment) {
  {
    const std::lock_guard lock(mutex_);
    if (segment.bytes().data() == mapping_.data()) mapping_ = {};
    queue_.push_back(std::move(segment));
    start_locked();
  }
  wake_.notify_one();
}

void SegmentWorker::fault_in(std::span<std::byte> mapping, std::size_t from, std::size_t to) {
  to = std::min(to, mapping.size());
  bool work = false;
  {
    const std::lock_guard lock(mutex_);
    // A new mapping at the address of a removed one is still new: close_later forgot the old one.
    done_ = mapping.data() == mapping_.data() ? std::max(done_, from) : from;
    mapping_ = mapping;
    to_ = to;
    work = done_ < to_;
    start_locked();
  }
  if (work) wake_.notify_one();  // no system call unless the thread sleeps
}

void SegmentWorker::touch(std::byte* page) noexcept {
#if defined(__x86_64__)
  // A locked OR of zero: a write access (the fault maps the page writable and dirty, and the hypervisor
  // maps it for this process too) that stores back the value it read, atomically, so an append storing
  // into the same word at the same time keeps its bytes. Plain C++ would be a data race.
  asm volatile("lock orq $0, (%0)" : : "r"(page) : "memory");
#else
  ::madvise(page, kPageBytes, MADV_POPULATE_WRITE);
#endif
}

void SegmentWorker::run() {
  // Best effort: without it the thread competes with the node loop as an equal.
  sched_param idle{};
  (void)::sched_setscheduler(0, SCHED_IDLE, &idle);
  std::vector<Segment> batch;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty() || (!mapping_.empty() && done_ < to_); });
    if (!queue_.empty()) {
      batch.swap(queue_);
      lock.unlock();
      batch.clear();  // unmaps and closes: the slow part, outside the lock
      lock.lock();
      continue;
    }
    if (stopping_) return;
    // Fault in one chunk outside the lock. The mapping cannot go away meanwhile: it is unmapped only by
    // this thread, after it was queued.
    const std::span<std::byte> mapping = mapping_;
    const std::size_t from = done_ / kPageBytes * kPageBytes;
    const std::size_t to = std::min(to_, from + kChunkBytes);
    lock.unlock();
    for (std::size_t offset = from; offset < to; offset += kPageBytes) touch(mapping.data() + offset);
    lock.lock();
    if (mapping_.data() == mapping.data()) done_ = std::max(done_, to);
  }
}

}  // namespace shmraft::storage
