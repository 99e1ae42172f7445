// Doorbell eventcount and the wait strategies, within one process (threads; TSan runs these).
#include "ipc/wait.h"

#include <atomic>
#include <thread>

#include "test_support.h"

namespace shmraft::ipc {

// Readable parameter names in test listings.
void PrintTo(WaitStrategy strategy, std::ostream* out) {
  *out << to_string(strategy);
}

namespace {

using namespace std::chrono_literals;
using test::LocalRing;

TEST(WaitStrategyNames, ParseAndPrintRoundTrip) {
  for (WaitStrategy s :
       {WaitStrategy::spin, WaitStrategy::yield, WaitStrategy::block, WaitStrategy::adaptive}) {
    EXPECT_EQ(parse_wait_strategy(to_string(s)), s);
    EXPECT_EQ(parse_wait_strategy_or_throw(to_string(s)), s);
  }
  EXPECT_EQ(to_string(kDefaultWaitStrategy), "adaptive");
  EXPECT_EQ(wait_strategy_names(), "spin|yield|block|adaptive");
  EXPECT_FALSE(parse_wait_strategy("Spin").has_value());
  EXPECT_FALSE(parse_wait_strategy("").has_value());
  try {
    parse_wait_strategy_or_throw("busy");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "unknown wait strategy 'busy' (expected one of spin|yield|block|adaptive)");
  }
}

TEST(Doorbell, RingWithoutAWaiterIsSyscallFree) {
  Doorbell bell;
  for (int i = 0; i < 1000; ++i) bell.ring();
  EXPECT_EQ(bell.epoch.load(), 0u);  // the epoch moves only on the futex path
  EXPECT_EQ(bell.waiters.load(), 0u);
}

TEST(Doorbell, ResetForgetsAWaiterKilledWhileWaiting) {
  Doorbell bell;
  (void)bell.prepare_wait();  // and the process dies here
  bell.ring();
  EXPECT_EQ(bell.epoch.load(), 1u);  // every ring now takes the futex path
  bell.reset_waiters();              // the consumer's successor starts
  bell.ring();
  EXPECT_EQ(bell.epoch.load(), 1u);
}

TEST(Doorbell, CancelUnregisters) {
  Doorbell bell;
  const uint32_t key = bell.prepare_wait();
  EXPECT_EQ(bell.waiters.load(), 1u);
  bell.cancel_wait();
  EXPECT_EQ(bell.waiters.load(), 0u);
  EXPECT_EQ(key, bell.epoch.load());
}

TEST(Doorbell, RingBetweenPrepareAndCommitIsNotLost) {
  Doorbell bell;
  const uint32_t key = bell.prepare_wait();
  bell.ring();                                                       // waiter registered: bumps the epoch
  EXPECT_TRUE(bell.commit_wait(key, Doorbell::Clock::now() + 10s));  // returns at once
  EXPECT_EQ(bell.waiters.load(), 0u);
}

TEST(Doorbell, CommitWaitTimesOut) {
  Doorbell bell;
  const uint32_t key = bell.prepare_wait();
  const auto deadline = Doorbell::Clock::now() + 2ms;
  EXPECT_FALSE(bell.commit_wait(key, deadline));
  EXPECT_GE(Doorbell::Clock::now(), deadline);
  EXPECT_EQ(bell.waiters.load(), 0u);
}

// Long waits halve the adaptive spin budget down to nothing, so a rarely fed consumer stops spinning
// before every sleep; one short wait restores it.
TEST(AdaptiveWait, SpinBudgetShrinksOnLongWaitsAndComesBackOnAShortOne) {
  Doorbell bell;
  Waiter waiter(bell, WaitStrategy::adaptive, 8us);
  EXPECT_EQ(waiter.spin_budget(), 8us);
  const std::chrono::nanoseconds expected[] = {4us, 2us, 1us, 0ns, 0ns};
  for (const std::chrono::nanoseconds budget : expected) {
    EXPECT_FALSE(waiter.wait_for([] { return false; }, 200us));
    EXPECT_EQ(waiter.spin_budget(), budget);
  }
  const uint64_t sleeps = waiter.sleeps();
  int checks = 0;
  EXPECT_TRUE(waiter.wait_for([&] { return ++checks == 3; }, 1s));  // answered while pausing
  EXPECT_EQ(waiter.sleeps(), sleeps);
  EXPECT_EQ(waiter.spin_budget(), 8us);
}

// With more spinning processes than cores the pause phase only holds off the peer on our own core: it is
// dropped once it keeps failing, and every kPauseProbeInterval-th wait tries it again.
TEST(AdaptiveWait, PausePhaseIsDroppedWhileItFailsAndProbedAgain) {
  Doorbell bell;
  Waiter waiter(bell, WaitStrategy::adaptive, 1s);
  auto ready_at_check = [](int n) { return [n, checks = 0]() mutable { return ++checks >= n; }; };
  EXPECT_TRUE(waiter.pauses());
  for (int i = 0; i < kPauseCredit; ++i) {  // each ends well after the pause phase: spends a credit
    EXPECT_TRUE(waiter.pauses());
    EXPECT_TRUE(waiter.wait_for(ready_at_check(2 * kAdaptivePauseRounds + 2), 1s));
  }
  EXPECT_FALSE(waiter.pauses());
  // Ready at the second check: a pause phase would end it, the yield spin ends it instead, until the probe.
  uint32_t waits = 0;
  while (!waiter.pauses() && waits < 2 * kPauseProbeInterval) {
    EXPECT_TRUE(waiter.wait_for(ready_at_check(2), 1s));
    ++waits;
  }
  EXPECT_EQ(waits, kPauseProbeInterval);
  EXPECT_TRUE(waiter.pauses());
}

// A wait longer than the spin time but far from idle (a peer waking up) leaves the budget alone.
TEST(AdaptiveWait, AWaitForAPeerWakingUpLeavesTheBudgetAlone) {
  Doorbell bell;
  Waiter waiter(bell, WaitStrategy::adaptive, 20ms);  // idle only after 320 ms
  std::atomic<bool> ready{false};
  std::thread ringer([&] {
    std::this_thread::sleep_for(40ms);
    ready = true;
    bell.ring();
  });
  EXPECT_TRUE(waiter.wait_for([&] { return ready.load(); }, 10s));
  ringer.join();
  EXPECT_EQ(waiter.spin_budget(), 20ms);
}

// A wait that needed the futex but was over within the spin time says spinning would have paid.
TEST(AdaptiveWait, ShortWaitAfterFallingAsleepRestoresTheBudget) {
  Doorbell bell;
  Waiter waiter(bell, WaitStrategy::adaptive, 50ms);  // a spin time no scheduler hiccup exceeds
  while (waiter.spin_budget() != 0ns) (void)waiter.wait_for([] { return false; }, 1ms);
  std::atomic<bool> ready{false};
  std::thread ringer([&] {
    while (bell.waiters.load() == 0) std::this_thread::yield();
    ready = true;
    bell.ring();
  });
  EXPECT_TRUE(waiter.wait_for([&] { return ready.load(); }, 10s));
  ringer.join();
  EXPECT_GE(waiter.sleeps(), 1u);
  EXPECT_EQ(waiter.spin_budget(), 50ms);
}

class EveryStrategy : public ::testing::TestWithParam<WaitStrategy> {};

TEST_P(EveryStrategy, TimesOutWhenNothingArrives) {
  Doorbell bell;
  Waiter waiter(bell, GetParam(), 100us);
  const auto deadline = Waiter::Clock::now() + 3ms;
  EXPECT_FALSE(waiter.wait_until([] { return false; }, deadline));
  EXPECT_GE(Waiter::Clock::now(), deadline);
  EXPECT_EQ(bell.waiters.load(), 0u);
}

TEST_P(EveryStrategy, ReturnsAtOnceWhenReady) {
  Doorbell bell;
  Waiter waiter(bell, GetParam());
  EXPECT_TRUE(waiter.wait_for([] { return true; }, 0s));
  EXPECT_EQ(waiter.sleeps(), 0u);
}

// Two threads bounce one frame back and forth over two rings, each waiting with the strategy under test.
// A lost wake-up would hang one side until the generous deadline and fail the test.
TEST_P(EveryStrategy, ThreadPingPongLosesNoWakeUp) {
  // Pure spinning on a loaded 2-core machine stalls whenever a spinner is descheduled: fewer rounds.
  const int round_trips =
      (GetParam() == WaitStrategy::spin ? 2'000 : 20'000) / (test::kThreadSanitizer ? 4 : 1);
  LocalRing ping(1024), pong(1024);
  Doorbell ping_bell, pong_bell;
  std::atomic<bool> failed{false};
  auto bounce = [&](RingConsumer in, Doorbell& my_bell, RingProducer out, bool starts) {
    Waiter waiter(my_bell, GetParam(), 2us);
    uint64_t seq = 0;
    for (int i = 0; i < round_trips; ++i) {
      if (starts) {
        const uint64_t value = seq;
        out.try_push(1, std::as_bytes(std::span(&value, 1)));
      }
      if (!waiter.wait_for([&] { return in.has_frames(); }, 10s)) {
        failed = true;
        return;
      }
      auto frame = in.peek();
      if (!frame || test::payload_seq(frame->payload) != seq) {
        failed = true;
        return;
      }
      in.release();
      if (!starts) out.try_push(1, std::as_bytes(std::span(&seq, 1)));
      ++seq;
    }
  };
  std::thread other([&] { bounce(ping.consumer(), ping_bell, pong.producer(&pong_bell), false); });
  bounce(pong.consumer(), pong_bell, ping.producer(&ping_bell), true);
  other.join();
  EXPECT_FALSE(failed.load());
}

INSTANTIATE_TEST_SUITE_P(Ipc, EveryStrategy,
                         ::testing::Values(WaitStrategy::spin, WaitStrategy::yield, WaitStrategy::block,
                                           WaitStrategy::adaptive),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// Many producers, one blocking consumer: every publish must be noticed (the node's situation).
TEST(Doorbell, ManyProducersOneBlockingConsumer) {
  constexpr int kProducers = 3;
  const uint64_t per_producer = test::kThreadSanitizer ? 5'000 : 50'000;
  std::vector<std::unique_ptr<LocalRing>> rings;
  for (int i = 0; i < kProducers; ++i) rings.push_back(std::make_unique<LocalRing>(4096));
  Doorbell bell;
  std::atomic<bool> stop{false};  // lets the producers finish if the consumer gives up
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      RingProducer producer = rings[p]->producer(&bell);
      for (uint64_t seq = 0; seq < per_producer; ++seq) {
        while (!producer.try_push(static_cast<uint16_t>(p), std::as_bytes(std::span(&seq, 1)))) {
          if (stop.load()) return;
          std::this_thread::yield();
        }
      }
    });
  }
  std::vector<RingConsumer> consumers;
  for (auto& ring : rings) consumers.push_back(ring->consumer());
  std::vector<uint64_t> next(kProducers, 0);
  Waiter waiter(bell, WaitStrategy::block);
  uint64_t total = 0;
  auto any = [&] {
    for (auto& c : consumers)
      if (c.has_frames()) return true;
    return false;
  };
  while (total < kProducers * per_producer) {
    if (!waiter.wait_for(any, 10s)) {
      ADD_FAILURE() << "lost wake-up after " << total << " frames";
      break;
    }
    for (int p = 0; p < kProducers; ++p) {
      total += consumers[p].drain([&](const Frame& frame) {
        EXPECT_EQ(frame.type, p);
        EXPECT_EQ(test::payload_seq(frame.payload), next[p]++);
      });
    }
  }
  stop.store(true);
  for (auto& t : producers) t.join();
  EXPECT_EQ(total, kProducers * per_producer);
}

}  // namespace
}  // namespace shmraft::ipc
