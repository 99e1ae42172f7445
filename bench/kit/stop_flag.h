#pragma once
// Ctrl-C handling for benchmark runs: the first SIGINT or SIGTERM only raises a flag, so the run loop can
// stop, report what it measured so far and clean up; a second one terminates the process as usual.
#include <signal.h>

#include <atomic>

namespace shmraft::bench {

class StopFlag {
 public:
  bool requested() const noexcept { return flag_.load(std::memory_order_relaxed); }
  void request() noexcept { flag_.store(true, std::memory_order_relaxed); }
  void clear() noexcept { flag_.store(false, std::memory_order_relaxed); }

 private:
  static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
  std::atomic<bool> flag_{false};
};

// While alive, SIGINT and SIGTERM raise `flag` (once: the handler resets itself, so a second signal has
// its default effect). Restores the previous handlers on destruction. One scope at a time per process;
// a second concurrent scope throws std::logic_error.
class StopOnSignals {
 public:
  explicit StopOnSignals(StopFlag& flag);
  ~StopOnSignals();
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

 private:
  struct sigaction saved_interrupt_ {};
  struct sigaction saved_terminate_ {};
};

}  // namespace shmraft::bench
