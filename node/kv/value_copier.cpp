#include "node/kv/value_copier.h"

#include <memory>
#include <utility>

namespace shmraft::kv {

ValueCopier::ValueCopier() : thread_([this] { run(); }) {}

ValueCopier::~ValueCopier() {
  stopping_.store(true, std::memory_order_release);
  posted_.fetch_add(1, std::memory_order_release);
  posted_.notify_one();
  thread_.join();
  delete job_.exchange(nullptr, std::memory_order_acquire);
}

uint64_t ValueCopier::copy(ValueMemory memory) {
  // A job the thread has not taken yet was for an earlier fork: this one covers what is still the state
  // machine's memory.
  const uint64_t number = ++jobs_;
  delete job_.exchange(new Job{std::move(memory), number}, std::memory_order_acq_rel);
  posted_.fetch_add(1, std::memory_order_release);
  posted_.notify_one();  // a futex wake, and only if the thread sleeps
  return number;
}

void ValueCopier::run() {
  const auto superseded = [this] {
    return stopping_.load(std::memory_order_relaxed) || job_.load(std::memory_order_relaxed) != nullptr;
  };
  uint32_t seen = 0;
  for (;;) {
    posted_.wait(seen, std::memory_order_acquire);
    seen = posted_.load(std::memory_order_acquire);
    if (stopping_.load(std::memory_order_acquire)) return;
    // Freed here, not on the loop: dropping a job may release the restore's slab (an munmap).
    for (std::unique_ptr<Job> job(job_.exchange(nullptr, std::memory_order_acq_rel)); job;
         job.reset(job_.exchange(nullptr, std::memory_order_acq_rel))) {
      if (job->memory.unshare(superseded)) finished_.store(job->number, std::memory_order_release);
    }
  }
}

}  // namespace shmraft::kv
