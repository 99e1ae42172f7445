#include "node/storage/segment_closer.h"

#include <utility>

namespace shmraft::storage {

SegmentCloser::~SegmentCloser() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SegmentCloser::close_later(Segment&& segment) {
  {
    const std::lock_guard lock(mutex_);
    queue_.push_back(std::move(segment));
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  wake_.notify_one();
}

void SegmentCloser::run() {
  std::vector<Segment> batch;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to close
    batch.swap(queue_);
    lock.unlock();
    batch.clear();  // unmaps and closes: the slow part, outside the lock
    lock.lock();
  }
}

}  // namespace shmraft::storage
