// Progress counters: the reader's stall clock on fixed times, and a SIGSTOPped process whose counter
// stops and is reported stalled, then moves again after SIGCONT.
#include "ipc/progress.h"

#include <csignal>
#include <thread>

#include "ipc/clock.h"
#include "test_support.h"

namespace shmraft::ipc {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kMs = 1'000'000;

TEST(ProgressWatch, StallsOnlyAfterTheStallTimeWithoutAMove) {
  ProgressCounter counters[2];  // nodes 1 and 2, by slot
  ProgressWatch watch(counters, 2, 5ms);
  watch.observe(100 * kMs);
  EXPECT_FALSE(watch.stalled(2, 104 * kMs));
  EXPECT_TRUE(watch.stalled(2, 105 * kMs));
  counters[1].bump();        // node 2
  watch.observe(106 * kMs);  // it moved: the clock restarts
  EXPECT_EQ(watch.reading(2).count, 1u);
  EXPECT_EQ(watch.reading(2).since_ns, 106 * kMs);
  EXPECT_FALSE(watch.stalled(2, 110 * kMs));
  EXPECT_EQ(watch.next_check_ns(2), 111 * kMs);
  EXPECT_EQ(watch.stalled(111 * kMs), node_bit(1) | node_bit(2));
  watch.observe(111 * kMs);  // still 1: no restart of the clock
  EXPECT_EQ(watch.reading(2).since_ns, 106 * kMs);
}

// A node stopped just after it moved, while it announced a long sleep (a leader between one client's
// requests, its next heartbeat 30 ms ahead), is stalled a stall time after its move. Once vouched for
// (the kernel says it sleeps), its announced sleep counts until it takes work.
TEST(ProgressWatch, AnAnnouncedSleepCountsOnlyOnceTheNodeIsVouchedFor) {
  ProgressCounter counters[1];  // node 1
  ProgressWatch watch(counters, 1, 2ms);
  counters[0].bump(10 * kMs);
  counters[0].idle_until(50 * kMs);
  watch.observe(10 * kMs);
  EXPECT_EQ(watch.reading(1).idle_until_ns, 50 * kMs);
  EXPECT_FALSE(watch.stalled(1, 11 * kMs));
  EXPECT_TRUE(watch.stalled(1, 12 * kMs)) << "a sleep not yet vouched for does not count";
  watch.vouch(1, 12 * kMs);
  EXPECT_FALSE(watch.stalled(1, 30 * kMs)) << "vouched for: asleep until 50 ms, not frozen";
  EXPECT_FALSE(watch.stalled(1, 51 * kMs));
  EXPECT_TRUE(watch.stalled(1, 52 * kMs));
  EXPECT_EQ(watch.next_check_ns(1), 52 * kMs);
  watch.observe(52 * kMs);  // overslept, not moved: still vouched, and still stalled
  EXPECT_TRUE(watch.stalled(1, 52 * kMs));

  counters[0].bump(55 * kMs);  // woken by its timer (no earlier than 50 ms): still vouched for
  counters[0].idle_until(85 * kMs);
  watch.observe(56 * kMs);
  EXPECT_TRUE(watch.reading(1).vouched);
  EXPECT_EQ(watch.next_check_ns(1), 87 * kMs) << "an idle node is not looked at again each sleep";

  counters[0].bump(60 * kMs);  // a request woke it: the vouch is spent
  counters[0].took_work();
  counters[0].idle_until(UINT64_MAX);  // asleep with no timer
  watch.observe(61 * kMs);
  EXPECT_FALSE(watch.reading(1).vouched);
  EXPECT_TRUE(watch.stalled(1, 62 * kMs));
  watch.vouch(1, 62 * kMs);
  EXPECT_FALSE(watch.stalled(1, UINT64_MAX - 1)) << "vouched for, asleep with no timer: never suspect";
}

// An idle leader moves a few times per heartbeat (the timer, then each answer) and sleeps again. A
// look that comes due after such moves, with the node asleep again, happens at once: timed from the
// later moves it would cost the watcher a second wake-up per heartbeat.
TEST(ProgressWatch, ANodeAsleepAgainWhenTheLookIsDueIsLookedAtAtOnce) {
  ProgressCounter counters[1];  // node 1
  ProgressWatch watch(counters, 1, 2ms);
  counters[0].bump(10 * kMs);  // its heartbeat
  counters[0].idle_until(40 * kMs);
  watch.observe(10 * kMs);
  EXPECT_EQ(watch.next_check_ns(1), 12 * kMs);
  counters[0].bump(11 * kMs);  // an answer woke it; asleep again
  counters[0].idle_until(40 * kMs);
  watch.observe(12 * kMs);  // the look is due
  EXPECT_TRUE(watch.stalled(1, 12 * kMs)) << "looked at now, not at 13 ms";
  watch.vouch(1, 12 * kMs);
  EXPECT_EQ(watch.next_check_ns(1), 42 * kMs);

  counters[0].bump(50 * kMs);  // before the look is due a move restarts the clock, asleep or not
  counters[0].idle_until(80 * kMs);
  watch.observe(50 * kMs);
  counters[0].bump(51 * kMs);  // a request: the vouch is spent
  counters[0].took_work();
  counters[0].idle_until(80 * kMs);
  watch.observe(51 * kMs);
  EXPECT_EQ(watch.next_check_ns(1), 53 * kMs);
  counters[0].bump(53 * kMs);  // due, but awake: timed from its move
  watch.observe(53 * kMs);
  EXPECT_FALSE(watch.stalled(1, 53 * kMs));
  EXPECT_EQ(watch.next_check_ns(1), 55 * kMs);
}

TEST(ProgressWatch, ARestartedClockSuspectsTheSameStallOnlyAStallTimeLater) {
  ProgressCounter counters[1];  // node 1
  ProgressWatch watch(counters, 1, 5ms);
  watch.observe(10 * kMs);
  ASSERT_TRUE(watch.stalled(1, 15 * kMs));
  watch.restart(1, 15 * kMs);  // acted on: not again at once
  EXPECT_FALSE(watch.stalled(1, 19 * kMs));
  EXPECT_EQ(watch.next_check_ns(1), 20 * kMs);
  watch.observe(20 * kMs);  // still not moved: suspect again
  EXPECT_TRUE(watch.stalled(1, 20 * kMs));
  counters[0].idle_until(100 * kMs);  // a sleep it announced before it stopped does not delay a suspect
  watch.observe(20 * kMs);
  watch.restart(1, 20 * kMs);
  EXPECT_EQ(watch.next_check_ns(1), 25 * kMs);
}

// A watcher looks once per stall time. Timed by its own look, a node that moved just after one look
// and stopped was suspected only two stall times later; the node's stamp of its move times it exactly.
TEST(ProgressWatch, TheStallCountsFromTheNodesOwnStampOfItsLastMove) {
  ProgressCounter counters[1];  // node 1
  ProgressWatch watch(counters, 1, 5ms);
  counters[0].bump(100 * kMs);
  watch.observe(100 * kMs);
  counters[0].bump(101 * kMs);  // its last move, then it stops
  watch.observe(105 * kMs);     // the next look sees the move four ms late
  EXPECT_EQ(watch.reading(1).since_ns, 101 * kMs);
  EXPECT_EQ(watch.next_check_ns(1), 106 * kMs);
  EXPECT_TRUE(watch.stalled(1, 106 * kMs)) << "suspected from the look, not from the move";
}

// An idle leader wakes for its heartbeat, its frames wake the followers, and it handles their answers
// before it sleeps again. The heartbeat's iteration announces its next sleep before the frames go out,
// and while it takes no work the watcher holds it to that sleep, awake or not: no second wake-up per
// heartbeat to find it asleep. A request it takes ends that, even seen only after its move.
TEST(ProgressWatch, AVouchedNodeWithoutNewWorkIsHeldToTheSleepItAnnounced) {
  ProgressCounter counters[1];  // node 1
  ProgressWatch watch(counters, 1, 2ms);
  counters[0].bump(10 * kMs);
  counters[0].idle_until(40 * kMs);
  watch.observe(10 * kMs);
  watch.vouch(1, 12 * kMs);
  EXPECT_EQ(watch.next_check_ns(1), 42 * kMs);

  counters[0].bump(40 * kMs);        // its heartbeat timer
  counters[0].idle_until(70 * kMs);  // announced before the heartbeats went out
  watch.observe(40 * kMs);           // a follower, woken by one
  EXPECT_TRUE(watch.reading(1).vouched);
  EXPECT_EQ(watch.next_check_ns(1), 72 * kMs);
  counters[0].bump(41 * kMs);  // the answers: awake, nothing announced yet
  watch.observe(41 * kMs);
  EXPECT_EQ(watch.reading(1).idle_until_ns, 70 * kMs) << "held to the sleep it announced";
  EXPECT_EQ(watch.next_check_ns(1), 72 * kMs);
  EXPECT_FALSE(watch.stalled(1, 71 * kMs));
  EXPECT_TRUE(watch.stalled(1, 72 * kMs)) << "stopped in that iteration: found as if asleep";

  counters[0].bump(50 * kMs);  // a request woke it; this look comes before it counts the request ...
  watch.observe(50 * kMs);
  EXPECT_TRUE(watch.reading(1).vouched);
  counters[0].took_work();  // ... and this one after, with its count unmoved since
  watch.observe(51 * kMs);
  EXPECT_FALSE(watch.reading(1).vouched);
  EXPECT_EQ(watch.reading(1).idle_until_ns, 0u);
  EXPECT_EQ(watch.next_check_ns(1), 52 * kMs) << "timed from its move, not from the sleep it announced";
}

// A node not vouched for, woken before the deadline it announced, then stopped at once, is suspected a
// stall time after it moved, not after the rest of its sleep: the bump ends the announced sleep.
TEST(ProgressWatch, ABumpEndsTheSleepTheNodeAnnounced) {
  ProgressCounter counters[1];  // node 1
  ProgressWatch watch(counters, 1, 5ms);
  counters[0].idle_until(130 * kMs);  // asleep until its next heartbeat ...
  counters[0].bump(102 * kMs);        // ... but a request woke it
  watch.observe(104 * kMs);
  EXPECT_EQ(watch.reading(1).idle_until_ns, 0u);
  EXPECT_TRUE(watch.stalled(1, 107 * kMs));
}

TEST(Progress, AStoppedProcessStallsAndResumes) {
  test::ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), test::tiny_config(2));
  const pid_t child = test::fork_child([&]() -> int {
    Segment mine = Segment::attach(cluster.name());
    ProgressCounter& progress = mine.progress(2);
    for (;;) {  // a node loop that sleeps 100 µs per iteration and says so
      progress.bump();
      progress.idle_until(monotonic_ns() + 100'000);
      std::this_thread::sleep_for(100us);
    }
  });
  // Generous stall time: this machine is shared, and a running child must not look frozen.
  ProgressWatch watch = segment.watch_progress(500ms);
  auto observe_for = [&](std::chrono::milliseconds span) {
    const auto end = std::chrono::steady_clock::now() + span;
    while (std::chrono::steady_clock::now() < end) {
      watch.observe(monotonic_ns());
      std::this_thread::sleep_for(1ms);
    }
  };
  auto wait_for_count = [&](uint64_t at_least) {
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (segment.progress(2).count.load() < at_least && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(1ms);
  };
  wait_for_count(10);
  observe_for(100ms);
  const uint64_t running = watch.reading(2).count;
  EXPECT_GE(running, 10u);
  EXPECT_FALSE(watch.stalled(2, monotonic_ns()));

  ::kill(child, SIGSTOP);
  std::this_thread::sleep_for(10ms);  // a bump in flight lands
  const uint64_t frozen = segment.progress(2).count.load();
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (!watch.stalled(2, monotonic_ns()) && std::chrono::steady_clock::now() < give_up) observe_for(10ms);
  EXPECT_TRUE(watch.stalled(2, monotonic_ns()));
  EXPECT_EQ(watch.reading(2).count, frozen) << "the counter moved while the process was stopped";
  EXPECT_EQ(segment.progress(2).count.load(), frozen);
  watch.restart(2, monotonic_ns());  // acted on, as a node does: a stall time before the next look

  ::kill(child, SIGCONT);
  wait_for_count(frozen + 1);
  watch.observe(monotonic_ns());
  EXPECT_GT(watch.reading(2).count, frozen);
  EXPECT_FALSE(watch.stalled(2, monotonic_ns()));
  ::kill(child, SIGKILL);
  EXPECT_EQ(test::wait_child(child), 128 + SIGKILL);
}

}  // namespace
}  // namespace shmraft::ipc
