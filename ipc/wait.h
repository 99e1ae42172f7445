#pragma once
// How a consumer waits for its rings: the strategies of DESIGN §2 on top of a Doorbell.
//
//   spin         re-check in a tight pause loop (lowest latency; burns a core, bad on 2 cores for 4+
//                processes)
//   yield        re-check, sched_yield() between checks
//   block        sleep on the doorbell's futex right away
//   spin-block   a pause loop for the spin time, then the futex (what a classic adaptive mutex does)
//   adaptive     spin for at most the spin time (default 16 µs), then sleep on the futex  <- the default.
//                What it does between checks, and how long it spins, is learned per process at run time
//                by a WaitLearner (below) from the waits it sees, not fixed for one host: on one host a
//                pause loop answers in under a microsecond while sched_yield costs ~10 µs a round (the
//                scheduler runs someone else's task); on another (2 cores shared by 4+ processes) the
//                peer we wait for is queued behind us on our own CPU and only a yield or a sleep lets it
//                run. Its pause loop therefore offers the CPU (sched_yield) at every clock reading.
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

enum class WaitStrategy : uint8_t { spin, yield, block, adaptive, spin_block };

inline constexpr WaitStrategy kDefaultWaitStrategy = WaitStrategy::adaptive;
// 16 µs: a closed-loop exchange of 4 processes on 2 cores has gaps of ~10 µs between a node's frames;
// with 8 µs a node fell asleep on 10-40 % of them (a futex wake-up on the commit path), 16 µs spared
// that: 1-client commit p50 ÷ floor 2.6-2.9 instead of 2.3-4.0, p99 halved, +15 % throughput, side by
// side. The budget learning keeps idle and low-rate consumers from paying for the longer spin.
inline constexpr uint32_t kDefaultSpinUs = 16;
inline constexpr std::chrono::nanoseconds kDefaultSpinTime = std::chrono::microseconds(kDefaultSpinUs);

// "spin", "yield", "block", "adaptive", "spin-block".
std::string_view to_string(WaitStrategy strategy) noexcept;
// nullopt for an unknown name.
std::optional<WaitStrategy> parse_wait_strategy(std::string_view name) noexcept;
// Throws std::invalid_argument naming the bad value and the valid ones (for CLI flags).
WaitStrategy parse_wait_strategy_or_throw(std::string_view name);
// "spin|yield|block|adaptive|spin-block", for help texts.
std::string wait_strategy_names();

// A pause hint for spin loops.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// What an adaptive wait does between its checks before it sleeps on the futex; `sleep`: no spinning,
// the futex at once.
enum class IdleStep : uint8_t { pause, yield, sleep };
inline constexpr int kIdleSteps = 3;
// "pause", "yield", "sleep".
std::string_view to_string(IdleStep step) noexcept;

// Between two pause instructions the clock costs more than a check and is not needed when the frame
// comes quickly, so it is read every 32 rounds. Next to a sched_yield system call a (vDSO) clock read
// is nothing, and reading it every round keeps the budget a real time budget: reading it only every
// 32 yields made each idle wait cost at least 32 system calls, most of a lightly loaded node's CPU.
inline constexpr uint32_t kPauseClockMask = 31;
inline constexpr uint32_t kYieldClockMask = 0;

// How a pause loop treats a peer that waits for our CPU: `spin` and `spin-block` keep the CPU, as
// asked; the adaptive wait's pause step offers it at every clock reading (WaitLearner below): a
// sched_yield that returns at once when nobody is queued, and runs the queued peer when one is.
enum class Offer : bool { keep_cpu, offer_cpu };

// Checks ready() between pauses or yields for `budget` (Clock::duration::max(): no limit) or until
// `deadline`. The spin starts being timed at the first clock reading (clock mask + 1 rounds in).
template <class Ready>
bool spin_until(Ready& ready, std::chrono::steady_clock::duration budget,
                std::chrono::steady_clock::time_point deadline, IdleStep step, Offer offer) {
  using Clock = std::chrono::steady_clock;
  const uint32_t clock_mask = step == IdleStep::pause ? kPauseClockMask : kYieldClockMask;
  Clock::time_point end = deadline;
  for (uint32_t round = 1;; ++round) {
    if (step == IdleStep::pause)
      cpu_relax();
    else
      sched_yield();
    if (ready()) return true;
    if ((round & clock_mask) != 0) continue;
    if (step == IdleStep::pause && offer == Offer::offer_cpu) {
      sched_yield();
      if (ready()) return true;
    }
    const Clock::time_point now = Clock::now();
    if (round == clock_mask + 1 && budget != Clock::duration::max() && now < deadline &&
        deadline - now > budget)
      end = now + budget;
    if (now >= end) return ready();
  }
}

// The next adaptive wait: spin with `step` for at most `spin` (zero for IdleStep::sleep), then the futex.
struct WaitPlan {
  IdleStep step;
  std::chrono::nanoseconds spin;
};

// One finished adaptive wait as the learner sees it.
struct WaitSample {
  IdleStep step;                    // the plan's step
  std::chrono::nanoseconds waited;  // from the start of the wait to ready(), or to the deadline
  bool ready;                       // false: the deadline passed first
};

// The learning rule of the adaptive wait, per process, from the waits it actually sees. Pure and
// deterministic (no clock, no randomness), so it can be replayed on recorded wait traces.
//
// Which step. A wait is idle when it timed out or lasted over kIdleWaitFactor spin times: the other side
// had nothing to send, whatever we did meanwhile, so idle waits say nothing about the steps. Every other
// wait is a cost sample of the step it used: how long it lasted, in a running mean per step (weight
// 1/kCostWeight). Each step serves a wait first, then the cheapest step serves the waits; each of the
// others is tried once every kExploreInterval waits, so a step that became cheaper (the load changed) is
// noticed, and another step takes over only below 7/8 of the current one's cost (noise does not make it
// flap). The interval is a prime: a node's waits come in repeating kinds (a leader's next request, then
// its followers' acks), and with every 64th wait exploring, steps tried in turn, each step was tried on
// one kind only, priced against the preferred step's mean over all kinds (on alternating short and long
// waits the learner left the cheapest step for 6 % of them after learning: LearnerOnAlternatingWaits).
// The pause step offers the CPU every kPauseClockMask + 1 rounds (spin_until), so it cannot starve a
// peer queued behind us on our own CPU: that peer runs within a microsecond or so, not after the whole
// spin and a wake-up. Ranked by how long its waits last a plain pause loop did show that cost, but the
// learner, which ranks its own waits only, settled between pause and the futex on a host where neither pays:
// 2 vCPUs shared by a client and 3 nodes, 1-client commit p50 41 µs learned, 58 µs pause forced, 27-29 µs
// with the offer (docs/results/2026-12-07.md).
// A wait's length is mostly the peer's doing, and what a step costs the peers does not show in it: a
// pause loop holds a CPU a peer queued behind us may need (the offer lets it in only every 32 rounds), a
// sleep makes the peer that wakes us pay a wake-up, while a yield returns at once when nobody waits for
// our CPU and hands it over when someone does. So the steps are ranked by their cost times kTakerWeight
// for pause and sleep, 1 for yield, which serves first: a step that takes from its peers serves only
// where it halves the wait (a pause loop on a host with a core for each process: 0.5 against 9 µs in
// the recorded trace). Ranked by their own waits alone, on 2 vCPUs shared by a client and 3 nodes, pause
// and yield cost the same to within 7 % and each served about half the waits, and in 11 of 12 runs some
// process served 16-35 % of its waits with the futex at once (shorter, as it left the CPU to the
// others); the 1-client commit p50 was 1.5 µs higher than with yield first (docs/results/2026-12-07.md).
//
// How long to spin. A budget per context — whether the previous wait was idle — is restored to the spin
// time by a wait that was over within it and halved by an idle one, down to nothing (the futex at once).
// Waits in between change nothing: they are what a peer's wake-up takes, and counting them as idle would
// let a busy group of consumers talk each other into sleeping for good (each sleeps, so each waits a
// wake-up, so each sleeps). The two contexts keep apart what a lightly loaded node sees: an idle wait
// and then the exchange it starts (a request, then the followers' acks within a wake-up), so the
// exchange keeps its spin while the idle waits stop paying one.
class WaitLearner {
 public:
  static constexpr int kIdleWaitFactor = 16;
  static constexpr uint32_t kExploreInterval = 127;
  static constexpr int kCostWeight = 8;
  static constexpr int kTakerWeight = 2;
  // What a step's cost counts for in the ranking (above).
  static constexpr int weight(IdleStep step) noexcept { return step == IdleStep::yield ? 1 : kTakerWeight; }
  // A budget below this is a sched_yield or two, not worth having: the wait sleeps at once.
  static constexpr std::chrono::nanoseconds kMinSpinBudget{1000};

  explicit WaitLearner(std::chrono::nanoseconds spin_time) noexcept
      : spin_time_(spin_time), budget_{spin_time, spin_time} {}

  WaitPlan next() const noexcept;
  void observe(const WaitSample& sample) noexcept;

  // The step that serves the waits that do not explore.
  IdleStep preferred() const noexcept { return preferred_; }
  // What the next wait spins at most, exploration aside.
  std::chrono::nanoseconds spin_budget() const noexcept { return budget_[after_idle_]; }
  // A step's running cost (mean wait), nullopt before its first sample.
  std::optional<std::chrono::nanoseconds> cost(IdleStep step) const noexcept;

 private:
  bool idle(const WaitSample& sample) const noexcept;
  // A step's cost as ranked: its running mean times its weight.
  std::chrono::nanoseconds ranked_cost(std::size_t step) const noexcept;

  std::chrono::nanoseconds spin_time_;
  std::chrono::nanoseconds budget_[2];  // index: whether the previous wait was idle
  std::chrono::nanoseconds cost_[kIdleSteps]{};
  bool costed_[kIdleSteps]{};
  IdleStep preferred_ = IdleStep::yield;
  bool after_idle_ = false;
  uint32_t waits_ = 0;
};

// Process-local; one per consumer, over that consumer's doorbell.
class Waiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Waiter(Doorbell& bell, WaitStrategy strategy = kDefaultWaitStrategy,
                  std::chrono::nanoseconds spin_time = kDefaultSpinTime) noexcept
      : bell_(&bell), strategy_(strategy), spin_time_(spin_time), learner_(spin_time) {}

  WaitStrategy strategy() const noexcept { return strategy_; }
  // What the adaptive strategy has learned so far.
  const WaitLearner& learner() const noexcept { return learner_; }

  // Returns true as soon as ready() is true; false if `deadline` passes first.
  template <class Ready>
  bool wait_until(Ready&& ready, Clock::time_point deadline) {
    if (ready()) return true;
    switch (strategy_) {
      case WaitStrategy::spin:
        return spin_until(ready, Clock::duration::max(), deadline, IdleStep::pause, Offer::keep_cpu);
      case WaitStrategy::yield:
        return spin_until(ready, Clock::duration::max(), deadline, IdleStep::yield, Offer::keep_cpu);
      case WaitStrategy::block:
        return block_until(ready, deadline);
      case WaitStrategy::spin_block:
        return spin_until(ready, spin_time_, deadline, IdleStep::pause, Offer::keep_cpu) ||
               block_until(ready, deadline);
      case WaitStrategy::adaptive:
        return adaptive_until(ready, deadline);
    }
    return ready();
  }

  // A wait its caller knows will outlast any spin: adaptive and spin-block sleep on the futex at once,
  // and the learner does not see it (it tells nothing of how soon a peer answers); spin and yield wait
  // as they were asked to.
  template <class Ready>
  bool sleep_until(Ready&& ready, Clock::time_point deadline) {
    if (strategy_ != WaitStrategy::adaptive && strategy_ != WaitStrategy::spin_block)
      return wait_until(ready, deadline);
    return ready() || block_until(ready, deadline);
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
  template <class Ready>
  bool adaptive_until(Ready& ready, Clock::time_point deadline) {
    const WaitPlan plan = learner_.next();
    const Clock::time_point start = Clock::now();
    bool got = false;
    if (plan.spin > Clock::duration::zero())
      got = spin_until(ready, plan.spin, deadline, plan.step, Offer::offer_cpu);
    if (!got) got = block_until(ready, deadline);
    learner_.observe({plan.step, Clock::now() - start, got});
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
  WaitLearner learner_;
  uint64_t sleeps_ = 0;
};

}  // namespace shmraft::ipc
