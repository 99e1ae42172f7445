#include "ipc/doorbell.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>

#include "ipc/layout.h"
#include "ipc/liveness.h"

namespace shmraft::ipc {

namespace {
// Shared (not FUTEX_PRIVATE_FLAG) futexes: the word lives in memory mapped by several processes.
long futex(std::atomic<uint32_t>* word, int op, uint32_t value, const timespec* timeout, uint32_t mask) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, timeout, nullptr, mask);
}
}  // namespace

void Doorbell::wake_all() noexcept {
  // release: pairs with the acquire load in prepare_wait()/commit_wait().
  epoch.fetch_add(1, std::memory_order_release);
  futex(&epoch, FUTEX_WAKE, INT_MAX, nullptr, 0);
}

bool Doorbell::commit_wait(uint32_t key, Clock::time_point deadline) noexcept {
  // FUTEX_WAIT_BITSET and futex_waitv take an absolute CLOCK_MONOTONIC deadline, which is what
  // steady_clock reads, so retries after EINTR or stray wake-ups do not stretch the wait.
  static_assert(std::is_same_v<Clock, std::chrono::steady_clock>);
  // A thread bound to a DeathWatch sleeps on its peers' death cells too: the kernel's wake-up at a
  // peer's death ends this wait directly (liveness.h).
  const DeathWatch* deaths = DeathWatch::bound_to_this_thread();
  timespec at{};
  const bool forever = deadline == Clock::time_point::max();
  if (!forever) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
    at.tv_sec = ns / 1'000'000'000;
    at.tv_nsec = ns % 1'000'000'000;
  }
  bool rung = true;
  while (epoch.load(std::memory_order_acquire) == key) {
    long result;
    int armed = -1;
    futex_waitv sleep_on[kMaxNodes + 1];
    if (deaths != nullptr) armed = deaths->arm(sleep_on + 1, kMaxNodes);
    if (armed > 0) {
      sleep_on[0] = {key, reinterpret_cast<uintptr_t>(&epoch), FUTEX_32, 0};
      result = futex_wait_any(sleep_on, armed + 1, deadline);
      // Woken by a cell (result >= 1), or a cell changed before we slept (EAGAIN with the epoch
      // unchanged): the caller's ready() looks.
      if (result >= 1 || (result == -1 && errno == EAGAIN && epoch.load(std::memory_order_acquire) == key))
        break;
    } else {
      // No live peer to watch, or a death already pending that the caller's ready() chose to ignore.
      result = futex(&epoch, FUTEX_WAIT_BITSET, key, forever ? nullptr : &at, FUTEX_BITSET_MATCH_ANY);
    }
    if (result == -1 && errno == ETIMEDOUT) {
      rung = epoch.load(std::memory_order_acquire) != key;
      break;
    }
    // Woken, EAGAIN (epoch already moved) or EINTR: the loop condition decides.
  }
  waiters.fetch_sub(1, std::memory_order_relaxed);  // relaxed: as in cancel_wait()
  return rung;
}

}  // namespace shmraft::ipc
