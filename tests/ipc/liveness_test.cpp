// Death known at once: liveness claims held by real processes, killed with SIGKILL, and the watcher
// sleeping on its doorbell woken by the kernel alone. No timing is asserted, only that the wake-up came
// from the death (the doorbell was never rung) and what the watcher then reads.
#include "ipc/liveness.h"

#include <csignal>
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

TEST(Liveness, WaitForDeathWithNoLivePeerReturnsAtOnce) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), tiny_config(2));
  DeathWatch deaths = segment.watch_deaths(1);
  EXPECT_FALSE(deaths.wait_for_death(std::chrono::steady_clock::time_point::max()));
}

}  // namespace
}  // namespace shmraft::ipc
