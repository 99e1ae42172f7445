#pragma once
// The thread that copies the value memory after a snapshot's fork (value_memory.h), started once and then
// asleep on a futex until the loop hands it the next fork's ranges.
//
// A thread started per fork cost the loop 0.24-5.4 ms on the shared 2-vCPU host while the child ran
// (thread creation maps and touches a stack, and every page it touches is copy-on-write right after the
// fork), and made the fork's pause 1.8 -> 8-16 ms (bench_snapshot --keys 65536, load 9). Handing over a
// job costs an exchange and a futex wake; the loop never waits for the copier, not even on a lock.
//
// A second fork while a copy still runs is safe: the ranges stay mapped (the pool's slabs are never
// unmapped, and the job holds the restore's slab), MADV_POPULATE_WRITE writes no byte, and the kernel
// orders fork() against it through the mmap lock, taken per step (ValueMemory::kUnshareStepBytes). The
// copier drops the older job at its next step for the newer one: after the second fork every page is
// shared again, with the newer child.
#include <atomic>
#include <cstdint>
#include <thread>

#include "node/kv/value_memory.h"

namespace shmraft::kv {

class ValueCopier {
 public:
  ValueCopier();   // starts the thread; throws std::system_error if it cannot
  ~ValueCopier();  // stops a copy at its next step and joins
  ValueCopier(const ValueCopier&) = delete;
  ValueCopier& operator=(const ValueCopier&) = delete;

  // Hands over the memory to copy, replacing a job not yet finished; returns the job's number (1, 2, ...).
  // Never waits.
  uint64_t copy(ValueMemory memory);
  // The number of the last job copied to the end (0: none; a superseded job never is): for tests and
  // benchmarks that wait for a copy.
  uint64_t finished() const noexcept { return finished_.load(std::memory_order_acquire); }

 private:
  struct Job {
    ValueMemory memory;
    uint64_t number;
  };
  void run();

  uint64_t jobs_ = 0;  // the caller's alone
  std::atomic<Job*> job_{nullptr};
  std::atomic<uint32_t> posted_{0};  // bumped after each job and at stop; the thread sleeps on it
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> finished_{0};
  std::thread thread_;
};

}  // namespace shmraft::kv
