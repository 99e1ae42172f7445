#pragma once
// Doorbell: a futex eventcount, one per consuming process (each node, each client slot), rung by every
// producer that publishes into one of that consumer's rings (DESIGN §2).
//
// Producer side (normally done for you by RingProducer::publish, which rings the destination's bell):
//     ring.publish();          // release store of tail
//     bell.ring();             // one fence + one load; a futex syscall only if a waiter is registered
// Consumer side (normally through ipc::Waiter in wait.h, which adds spin/yield/adaptive):
//     uint32_t key = bell.prepare_wait();
//     if (anything_to_read()) bell.cancel_wait();
//     else bell.commit_wait(key, deadline);   // sleeps unless a ring() happened since prepare_wait
// No wake-up is lost: either the consumer's re-check sees the producer's frame, or the producer sees the
// registered waiter and bumps `epoch`, which makes the futex wait return (see ring()).
//
// The doorbell lives in shared memory: plain atomics, no pointers, zero bytes = a fresh doorbell.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace shmraft::ipc {

inline constexpr std::size_t kCacheLine = 64;

struct alignas(kCacheLine) Doorbell {
  using Clock = std::chrono::steady_clock;

  // Futex word; bumped by a producer only when `waiters` is non-zero.
  std::atomic<uint32_t> epoch{0};
  // Consumers between prepare_wait and the end of cancel_wait/commit_wait.
  std::atomic<uint32_t> waiters{0};

  // Call after publishing frames for this consumer. Syscall-free unless the consumer is asleep.
  void ring() noexcept {
    // The publish before this call is a release store of a ring's tail; the consumer registers in
    // `waiters` and then re-reads that tail. Store→load on both sides (store buffering) needs a full
    // barrier on both sides, or each could miss the other's store and the consumer would sleep on a
    // published frame. The consumer's side is in prepare_wait().
#if defined(__SANITIZE_THREAD__)
    // TSan does not model fences; an RMW on `waiters` is equally correct (RMWs on one atomic are
    // totally ordered) and TSan understands it.
    const uint32_t registered = waiters.fetch_add(0, std::memory_order_seq_cst);
#else
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const uint32_t registered = waiters.load(std::memory_order_relaxed);
#endif
    if (registered != 0) wake_all();
  }

  // Registers the caller as a waiter and returns the key for commit_wait. The caller must re-check its
  // rings after this and then call exactly one of cancel_wait() or commit_wait().
  uint32_t prepare_wait() noexcept {
    waiters.fetch_add(1, std::memory_order_seq_cst);
#if !defined(__SANITIZE_THREAD__)
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with the fence in ring()
#endif
    // acquire: if this already reads a bumped epoch, the publish that preceded the bump is visible too.
    return epoch.load(std::memory_order_acquire);
  }

  // relaxed: leaving only makes producers skip a wake-up we no longer need; it publishes nothing.
  void cancel_wait() noexcept {
    waiters.fetch_sub(1, std::memory_order_relaxed);
  }

  // Forgets waiters left registered by a consumer process killed while waiting (harmless, but every
  // publish would then pay a futex syscall). Call only as the bell's sole consumer, at start-up: a node
  // process before its loop; Segment::claim_client_slot does it for client bells. relaxed: as cancel_wait.
  void reset_waiters() noexcept {
    waiters.store(0, std::memory_order_relaxed);
  }

  // Sleeps until a producer rings after prepare_wait() returned `key`, or until `deadline`
  // (Clock::time_point::max() = no deadline). Returns false only on timeout. Unregisters the waiter.
  // In a thread bound to a DeathWatch (liveness.h) it also returns (true) when a watched peer dies.
  bool commit_wait(uint32_t key, Clock::time_point deadline) noexcept;

 private:
  void wake_all() noexcept;
};

static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(sizeof(Doorbell) == kCacheLine);

}  // namespace shmraft::ipc
