// Death known at once: liveness claims held by real processes, killed with SIGKILL, and the watcher
// sleeping on its doorbell woken by the kernel alone. No timing is asserted, only that the wake-up came
// from the death (the doorbell was never rung) and what the watcher then reads.
#include "ipc/liveness.h"

#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <thread>

#include "ipc/wait.h"
#include "test_support.h"

namespace shmraft::ipc {
namespace {

using namespace std::chrono_literals;
using test::ScopedCluster;
using test::tiny_config;

// A child that attaches, claims node `node` and waits to be killed.
pid_t spawn_claimant(const std::string& cluster, uint32_t node) {
  return test::fork_child([&]() -> int {
    Segment segment = Segment::attach(cluster);
    LivenessClaim claim = segment.claim_liveness(node);
    for (;;) ::pause();
  });
}

// Polls (test only) until `node` is claimed and alive with at least `incarnation`.
void await_alive(const Segment& segment, uint32_t node, uint32_t incarnation) {
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (!(segment.peer_alive(node).alive && segment.peer_alive(node).incarnation >= incarnation)) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "node " << node << " never claimed";
    std::this_thread::sleep_for(1ms);
  }
}

TEST(Liveness, KilledPeerWakesTheWatcherAsleepOnItsDoorbell) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), tiny_config(3));
  DeathWatch deaths = segment.watch_deaths(1);
  const pid_t child = spawn_claimant(cluster.name(), 2);
  await_alive(segment, 2, 1);
  EXPECT_EQ(segment.peer_alive(2).pid, child);
  EXPECT_FALSE(deaths.pending());

  Doorbell& bell = segment.node_doorbell(1);
  Waiter waiter(bell, WaitStrategy::block);
  const uint32_t epoch_before = bell.epoch.load();
  std::thread killer([&] {
    std::this_thread::sleep_for(100ms);  // let the watcher fall asleep (not required for correctness)
    ::kill(child, SIGKILL);
  });
  bool woke = false;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  {
    DeathWatch::Binding bound = deaths.bind_to_this_thread();
    woke = waiter.wait_until([&] { return deaths.pending(); }, deadline) &&
           std::chrono::steady_clock::now() < deadline;  // at the deadline ready() is true as well
  }
  killer.join();
  EXPECT_EQ(test::wait_child(child), 128 + SIGKILL);

  EXPECT_TRUE(woke) << "the watcher slept through its peer's death";
  EXPECT_GE(waiter.sleeps(), 1u) << "it never slept, so this did not test a wake-up";
  EXPECT_EQ(bell.epoch.load(), epoch_before) << "the doorbell was rung: the wake-up was not the kernel's";
  EXPECT_EQ(deaths.take(), node_bit(2));
  EXPECT_EQ(deaths.take(), 0u) << "a death is reported once";
  EXPECT_FALSE(deaths.pending());
  EXPECT_EQ(segment.node_counters(1).snapshot().deaths_seen, 1u);
  const PeerLiveness dead = segment.peer_alive(2);
  EXPECT_FALSE(dead.alive);
  EXPECT_EQ(dead.incarnation, 1u);
  EXPECT_TRUE(segment.peer_alive(3).alive == false && segment.peer_alive(3).incarnation == 0u);
}

TEST(Liveness, EveryWatcherIsWokenNotJustOne) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), tiny_config(3));
  const pid_t child = spawn_claimant(cluster.name(), 3);
  await_alive(segment, 3, 1);
  // Nodes 1 and 2 watch from two threads, each asleep on its own doorbell.
  std::atomic<int> woken{0};
  std::atomic<int> asleep{0};
  auto watcher = [&](uint32_t me) {
    DeathWatch deaths = segment.watch_deaths(me);
    DeathWatch::Binding bound = deaths.bind_to_this_thread();
    Waiter waiter(segment.node_doorbell(me), WaitStrategy::block);
    asleep.fetch_add(1);
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    if (waiter.wait_until([&] { return deaths.pending(); }, deadline) &&
        std::chrono::steady_clock::now() < deadline && deaths.take() == node_bit(3))
      woken.fetch_add(1);
  };
  std::thread a(watcher, 1), b(watcher, 2);
  while (asleep.load() < 2) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(100ms);
  ::kill(child, SIGKILL);
  a.join();
  b.join();
  EXPECT_EQ(test::wait_child(child), 128 + SIGKILL);
  EXPECT_EQ(woken.load(), 2);
}

TEST(Liveness, RestartIsANewIncarnationAndAStaleReadingShowsIt) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), tiny_config(2));
  DeathWatch deaths = segment.watch_deaths(1);
  pid_t child = spawn_claimant(cluster.name(), 2);
  await_alive(segment, 2, 1);
  EXPECT_EQ(deaths.take(), 0u);  // sees incarnation 1 alive
  ::kill(child, SIGKILL);
  EXPECT_EQ(test::wait_child(child), 128 + SIGKILL);
  const PeerLiveness stale = segment.peer_alive(2);
  EXPECT_FALSE(stale.alive);
  EXPECT_EQ(stale.incarnation, 1u);

  // Restarted before the watcher looked: the cell shows the new holder, yet the death is not lost.
  child = spawn_claimant(cluster.name(), 2);
  await_alive(segment, 2, 2);
  const PeerLiveness fresh = segment.peer_alive(2);
  EXPECT_TRUE(fresh.alive);
  EXPECT_EQ(fresh.incarnation, 2u);
  EXPECT_EQ(fresh.pid, child);
  EXPECT_NE(fresh.incarnation, stale.incarnation);
  EXPECT_TRUE(deaths.pending());
  EXPECT_EQ(deaths.take(), node_bit(2));
  EXPECT_FALSE(deaths.pending()) << "the new incarnation is alive, nothing more to report";

  // The new incarnation's death is reported too.
  ::kill(child, SIGKILL);
  EXPECT_EQ(test::wait_child(child), 128 + SIGKILL);
  EXPECT_TRUE(deaths.wait_for_death(std::chrono::steady_clock::now() + 60s) || deaths.pending());
  EXPECT_EQ(deaths.take(), node_bit(2));
  EXPECT_EQ(segment.node_counters(1).snapshot().deaths_seen, 2u);
}

TEST(Liveness, ReleasingTheClaimIsADeathForPeers) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), tiny_config(2));
  DeathWatch deaths = segment.watch_deaths(1);
  {
    LivenessClaim claim = segment.claim_liveness(2);
    EXPECT_EQ(claim.node(), 2u);
    EXPECT_EQ(claim.incarnation(), 1u);
    EXPECT_TRUE(segment.peer_alive(2).alive);
    EXPECT_EQ(segment.peer_alive(2).pid, ::getpid());
    EXPECT_EQ(deaths.take(), 0u);
  }
  EXPECT_TRUE(deaths.pending());
  EXPECT_EQ(deaths.take(), node_bit(2));
  EXPECT_FALSE(segment.peer_alive(2).alive);
  EXPECT_EQ(segment.peer_alive(2).pid, 0);
  LivenessClaim again = segment.claim_liveness(2);
  EXPECT_EQ(again.incarnation(), 2u);
  EXPECT_TRUE(segment.peer_alive(2).alive);
}

TEST(Liveness, ARunningNodeCannotBeClaimedTwice) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), tiny_config(2));
  LivenessClaim mine = segment.claim_liveness(1);
  try {
    (void)segment.claim_liveness(1);
    ADD_FAILURE() << "claimed twice";
  } catch (const SegmentError& e) {
    EXPECT_NE(std::string(e.what()).find("node 1 is already running"), std::string::npos) << e.what();
  }
  const pid_t child = test::fork_child([&]() -> int {
    Segment theirs = Segment::attach(cluster.name());
    try {
      (void)theirs.claim_liveness(1);
      return 1;
    } catch (const SegmentError&) {
      return 0;
    }
  });
  EXPECT_EQ(test::wait_child(child), 0) << "another process claimed a node held by a live one";
  EXPECT_EQ(mine.incarnation(), 1u);
  EXPECT_EQ(segment.peer_alive(1).incarnation, 1u) << "a refused claim must not bump the incarnation";
  EXPECT_THROW((void)segment.claim_liveness(3), std::out_of_range);
}

TEST(Liveness, DeathsFromBeforeTheWatchBeganAreNotNews) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), tiny_config(2));
  { LivenessClaim claim = segment.claim_liveness(2); }  // died before node 1 started watching
  DeathWatch deaths = segment.watch_deaths(1);
  EXPECT_FALSE(deaths.pending());
  EXPECT_EQ(deaths.take(), 0u);
}

TEST(Liveness, AWatcherWhoseReadyIgnoresDeathsStillSleeps) {
  // The death wakes it once; after that a pending death it does not take must not keep it spinning.
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), tiny_config(2));
  DeathWatch deaths = segment.watch_deaths(1);
  { LivenessClaim claim = segment.claim_liveness(2); }
  ASSERT_TRUE(deaths.pending());
  DeathWatch::Binding bound = deaths.bind_to_this_thread();
  Waiter waiter(segment.node_doorbell(1), WaitStrategy::block);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(waiter.wait_until([] { return false; }, start + 50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_LE(waiter.sleeps(), 3u) << "it spun instead of sleeping";
}

// Moves the calling thread to SCHED_RR 1: 0, or the errno.
int enter_round_robin() {
  sched_param priority{};
  priority.sched_priority = 1;
  return ::sched_setscheduler(0, SCHED_RR, &priority) == 0 ? 0 : errno;
}

// Node 3 dies, its process and the watchers on one CPU: node 1's watcher, at SCHED_RR 1, sleeps on its
// doorbell and cells; node 2's cell has no sleeper (a survivor asleep on its doorbell alone). Returns
// whether node 2's cell was marked when node 1's watcher ran. The holder marks node 1's cell first.
bool second_cell_marked_when_the_first_watcher_runs(bool holder_like_loop) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), tiny_config(3));
  int ready[2];
  EXPECT_EQ(::pipe(ready), 0);
  const pid_t child = test::fork_child([&]() -> int {
    ::close(ready[0]);
    Segment attached = Segment::attach(cluster.name());
    LivenessClaim claim = attached.claim_liveness(3);
    if (enter_round_robin() != 0) return 2;  // the node's loop, under --realtime
    if (holder_like_loop && claim.schedule_holder_like_this_thread() != 0) return 3;
    const char byte = 1;
    if (::write(ready[1], &byte, 1) != 1) return 4;
    for (;;) ::pause();
  });
  ::close(ready[1]);
  char byte = 0;
  const bool claimed = ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);
  if (!claimed) {
    ADD_FAILURE() << "the child could not claim node 3 and set its policies: exit code "
                  << test::wait_child(child);
    return false;
  }

  DeathWatch first = segment.watch_deaths(1);
  DeathWatch second = segment.watch_deaths(2);
  std::atomic<bool> asleep{false};
  std::atomic<int> marked{-1};  // -1: the watcher was not woken by the death
  std::thread watcher([&] {
    EXPECT_EQ(enter_round_robin(), 0);
    DeathWatch::Binding bound = first.bind_to_this_thread();
    Waiter waiter(segment.node_doorbell(1), WaitStrategy::block);
    asleep.store(true);
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    if (waiter.wait_until([&] { return first.pending(); }, deadline) &&
        std::chrono::steady_clock::now() < deadline)
      marked.store(second.pending() ? 1 : 0);
  });
  while (!asleep.load()) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(100ms);  // let it fall asleep
  ::kill(child, SIGKILL);
  watcher.join();
  EXPECT_EQ(test::wait_child(child), 128 + SIGKILL);
  EXPECT_NE(marked.load(), -1) << "the watcher was not woken by the death";
  return marked.load() == 1;
}

// At a death the holder thread marks the cells one by one and wakes each sleeping watcher as it goes;
// the kernel yields between cells, so a woken watcher that outranks the holder runs before the next
// cell is marked. A survivor woken then by another message (a candidate's vote request) finds no death
// (see DeathWake.AFollowerWhoseLeaseHeldAVoteRequestIsWokenByTheDeath). A holder at the loop's policy
// marks them all first. Deterministic on one CPU; needs the right to use SCHED_RR.
TEST(Liveness, AHolderAtItsLoopsPolicyMarksEveryCellBeforeTheRealTimeWatcherItWakesRuns) {
  std::string refused;
  std::thread([&] {
    if (const int error = enter_round_robin(); error != 0) refused = std::strerror(error);
  }).join();
  if (!refused.empty())
    GTEST_SKIP() << "SCHED_RR refused (" << refused << "): needs CAP_SYS_NICE or RLIMIT_RTPRIO >= 1";
  cpu_set_t before;
  ASSERT_EQ(::sched_getaffinity(0, sizeof before, &before), 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  int cpu = 0;
  while (!CPU_ISSET(cpu, &before)) ++cpu;
  CPU_SET(cpu, &one);
  ASSERT_EQ(::sched_setaffinity(0, sizeof one, &one), 0);  // the child and the watcher inherit it
  // The control: a holder at normal policy lost the CPU to the watcher between the two cells.
  EXPECT_FALSE(second_cell_marked_when_the_first_watcher_runs(false))
      << "the holder at normal policy marked every cell before the real-time watcher ran: this kernel "
         "does not yield between cells, and the other half of this test shows nothing";
  EXPECT_TRUE(second_cell_marked_when_the_first_watcher_runs(true))
      << "the holder at the loop's policy lost its CPU to the watcher it woke before marking node 2's cell";
  ASSERT_EQ(::sched_setaffinity(0, sizeof before, &before), 0);
}

TEST(Liveness, WaitForDeathWithNoLivePeerReturnsAtOnce) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), tiny_config(2));
  DeathWatch deaths = segment.watch_deaths(1);
  EXPECT_FALSE(deaths.wait_for_death(std::chrono::steady_clock::time_point::max()));
}

}  // namespace
}  // namespace shmraft::ipc
