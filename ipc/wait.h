#pragma once
// How a consumer waits for its rings: the four strategies of DESIGN §2 on top of a Doorbell.
//
//   spin      re-check in a tight loop (lowest latency, burns a core; bad on 2 cores for 4+ processes)
//   yield     re-check, sched_yield() between checks
//   block     sleep on the doorbell's futex right away
//   adaptive  spin for a few microseconds (default 16 µs), then sleep on the futex   <- the default.
//             The spin pauses only for the first kAdaptivePauseRounds checks (well under a microsecond,
//             where an answer from a peer running on another core arrives) and then calls sched_yield
//             between checks: on 2 cores shared by 4+ processes the peer we wait for is often queued
//             behind us on our own CPU, and a pause loop would only hold it off. For the same reason
//             the pause phase itself is dropped while it keeps failing: a wait it ended grants the
//             next kPauseCredit waits one, a wait it did not end spends one, and without credit only
//             every kPauseProbeInterval-th wait pauses, to notice when pausing pays again. (3 nodes and
//             a client on 2 cores: the leader's pause phase ended 6 % of its waits, a follower's none,
//             and dropping it took the 1-client commit p50 from 8-9 µs to 6.3-6.9 µs side by side; a
//             client and 1 node, each with a core, end half their waits there and keep it.)
//             The spin budget learns from how long the waits really last: a wait that ended within the
//             full spin time (by spinning, or soon after falling asleep) restores the budget; an idle
//             one (over kIdleWaitFactor spin times, or timed out) halves it, down to nothing. A consumer
//             in a busy exchange keeps spinning; one whose frames come rarely (an idle node, a cluster
//             at 1 K ops/s) stops paying a futile spin on every wake, which on a virtual machine costs
//             more than the futex sleep it precedes. Waits in between change nothing: they are what a
//             peer's wake-up takes, and counting them as idle would let a busy group of consumers talk
//             each other into sleeping for good (each sleeps, so each waits a wake-up, so each sleeps).
//
// A node process waits "until a frame arrives or its next timer is due":
//     ipc::Waiter waiter(segment.node_doorbell(me), strategy);
//     auto ready = [&] { return any_ring_has_frames(); };     // e.g. consumer.has_frames() for each
//     bool got_frames = waiter.wait_until(ready, next_timer);   // false: deadline passed, nothing came
// `ready` is called many times and must be cheap and side-effect free (RingConsumer::has_frames is).
// Producers need nothing beyond RingProducer::publish(), which rings the bell.
#include <sched.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ipc/doorbell.h"

namespace shmraft::ipc {

enum class WaitStrategy : uint8_t { spin, yield, block, adaptive };

inline constexpr WaitStrategy kDefaultWaitStrategy = WaitStrategy::adaptive;
// 16 µs: a closed-loop exchange of 4 processes on 2 cores has gaps of ~10 µs between a node's frames;
// with 8 µs a node fell asleep on 10-40 % of them (a futex wake-up on the commit path), 16 µs spared
// that: 1-client commit p50 ÷ floor 2.6-2.9 instead of 2.3-4.0, p99 halved, +15 % throughput, side by
// side. The budget learning keeps idle and low-rate consumers from paying for the longer spin.
inline constexpr uint32_t kDefaultSpinUs = 16;
inline constexpr std::chrono::nanoseconds kDefaultSpinTime = std::chrono::microseconds(kDefaultSpinUs);
inline constexpr int kAdaptivePauseRounds = 16;
inline constexpr int kPauseCredit = 8;
inline constexpr uint32_t kPauseProbeInterval = 64;

// "spin", "yield", "block", "adaptive".
std::string_view to_string(WaitStrategy strategy) noexcept;
// nullopt for an unknown name.
std::optional<WaitStrategy> parse_wait_strategy(std::string_view name) noexcept;
// Throws std::invalid_argument naming the bad value and the valid ones (for CLI flags).
WaitStrategy parse_wait_strategy_or_throw(std::string_view name);
// "spin|yield|block|adaptive", for help texts.
std::string wait_strategy_names();

// A pause hint for spin loops.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Process-local; one per consumer, over that consumer's doorbell.
class Waiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Waiter(Doorbell& bell, WaitStrategy strategy = kDefaultWaitStrategy,
                  std::chrono::nanoseconds spin_time = kDefaultSpinTime) noexcept
      : bell_(&bell), strategy_(strategy), spin_time_(spin_time), spin_budget_(spin_time) {}

  WaitStrategy strategy() const noexcept { return strategy_; }
  // What the next adaptive wait spins at most (spin_time while waits stay short; see above).
  std::chrono::nanoseconds spin_budget() const noexcept { return spin_budget_; }
  // Whether the next adaptive wait starts with its pause phase (see above; a probe aside).
  bool pauses() const noexcept { return pause_credit_ > 0; }

  // Returns true as soon as ready() is true; false if `deadline` passes first.
  template <class Ready>
  bool wait_until(Ready&& ready, Clock::time_point deadline) {
    if (ready()) return true;
    switch (strategy_) {
      case WaitStrategy::spin:
        return spin_until(
            ready, Clock::duration::max(), deadline, [] { cpu_relax(); }, kPauseClockMask);
      case WaitStrategy::yield:
        return spin_until(
            ready, Clock::duration::max(), deadline, [] { sched_yield(); }, kYieldClockMask);
      case WaitStrategy::block:
        return block_until(ready, deadline);
      case WaitStrategy::adaptive:
        return adaptive_until(ready, deadline);
    }
    return ready();
  }

  template <class Ready>
  bool wait_for(Ready&& ready, Clock::duration timeout) {
    return wait_until(ready, Clock::now() + timeout);
  }

  // Waits with no deadline.
  template <class Ready>
  void wait(Ready&& ready) {
    (void)wait_until(ready, Clock::time_point::max());
  }

  // Futex waits entered so far (how often adaptive gave up spinning), for benchmarks and tests.
  uint64_t sleeps() const noexcept { return sleeps_; }

 private:
  // Between two pause instructions the clock costs more than a check and is not needed when the frame
  // comes quickly, so it is read every 32 rounds. Next to a sched_yield system call a (vDSO) clock read
  // is nothing, and reading it every round keeps the budget a real time budget: reading it only every
  // 32 yields made each idle wait cost at least 32 system calls, most of a lightly loaded node's CPU.
  static constexpr uint32_t kPauseClockMask = 31;
  static constexpr uint32_t kYieldClockMask = 0;

  // Checks ready() between pauses for `budget` (Clock::duration::max(): no limit) or until `deadline`.
  // The spin starts being timed at the first clock reading (clock_mask + 1 rounds in).
  template <class Ready, class Pause>
  static bool spin_until(Ready& ready, Clock::duration budget, Clock::time_point deadline, Pause pause,
                         uint32_t clock_mask) {
    Clock::time_point end = deadline;
    for (uint32_t round = 1;; ++round) {
      pause();
      if (ready()) return true;
      if ((round & clock_mask) != 0) continue;
      const Clock::time_point now = Clock::now();
      if (round == clock_mask + 1 && budget != Clock::duration::max() && now < deadline &&
          deadline - now > budget)
        end = now + budget;
      if (now >= end) return ready();
    }
  }

  // A budget below this is a sched_yield or two, not worth having: the next adaptive wait sleeps at once.
  static constexpr std::chrono::nanoseconds kMinSpinBudget{1000};
  // A wait this many spin times long found the other side idle, not busy.
  static constexpr int kIdleWaitFactor = 16;

  template <class Ready>
  bool adaptive_until(Ready& ready, Clock::time_point deadline) {
    if (pause_credit_ > 0 || ++waits_without_pause_ == kPauseProbeInterval) {
      waits_without_pause_ = 0;
      for (int round = 0; round < kAdaptivePauseRounds; ++round) {
        cpu_relax();
        if (ready()) {
          pause_credit_ = kPauseCredit;
          spin_budget_ = spin_time_;
          return true;
        }
      }
      if (pause_credit_ > 0) --pause_credit_;
    }
    const Clock::time_point start = Clock::now();
    bool got = false;
    if (spin_budget_ > Clock::duration::zero())
      got = spin_until(
          ready, spin_budget_, deadline, [] { sched_yield(); }, kYieldClockMask);
    if (!got) got = block_until(ready, deadline);
    const Clock::duration waited = Clock::now() - start;
    if (got && waited <= spin_time_) {
      spin_budget_ = spin_time_;
    } else if (!got || waited > kIdleWaitFactor * spin_time_) {
      spin_budget_ /= 2;
      if (spin_budget_ < kMinSpinBudget) spin_budget_ = std::chrono::nanoseconds::zero();
    }
    return got;
  }

  template <class Ready>
  bool block_until(Ready& ready, Clock::time_point deadline) {
    for (;;) {
      const uint32_t key = bell_->prepare_wait();
      if (ready()) {
        bell_->cancel_wait();
        return true;
      }
      ++sleeps_;
      if (!bell_->commit_wait(key, deadline)) return ready();
      if (ready()) return true;
      // Rung for another ring of ours that is already drained, or a stray wake-up: wait again.
    }
  }

  Doorbell* bell_;
  WaitStrategy strategy_;
  std::chrono::nanoseconds spin_time_;
  std::chrono::nanoseconds spin_budget_;
  int pause_credit_ = kPauseCredit;
  uint32_t waits_without_pause_ = 0;  // adaptive waits since the last pause phase, while without credit
  uint64_t sleeps_ = 0;
};

}  // namespace shmraft::ipc
