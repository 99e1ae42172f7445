// What the kernel says a node's process is doing, asked of real child processes that hold a node's
// liveness claim: one that busy-loops without bumping its progress counter (starved or slow, alive) is
// stalled yet runnable, one asleep is sleeping, a SIGSTOPped one is stopped, and a killed one is gone
// whether reaped or not; a node restarted under the same id is asked about its new process. No timing
// is asserted: stops and continues are awaited through waitpid.
#include "ipc/process_state.h"

#include <sys/wait.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "ipc/clock.h"
#include "ipc/progress.h"
#include "test_support.h"

namespace shmraft::ipc {
namespace {

using namespace std::chrono_literals;

TEST(ProcessState, ParsesTheStateAfterTheLastParenthesisOfTheCommand) {
  EXPECT_EQ(parse_process_stat("42 (shmraft) R 1 42 42 0"), ProcessState::kRunnable);
  EXPECT_EQ(parse_process_stat("42 (shmraft) S 1"), ProcessState::kSleeping);
  EXPECT_EQ(parse_process_stat("42 (shmraft) D 1"), ProcessState::kSleeping);
  EXPECT_EQ(parse_process_stat("42 (shmraft) T 1"), ProcessState::kStopped);
  EXPECT_EQ(parse_process_stat("42 (shmraft) t 1"), ProcessState::kStopped);
  EXPECT_EQ(parse_process_stat("42 (shmraft) Z 1"), ProcessState::kGone);
  EXPECT_EQ(parse_process_stat("42 (shmraft) X 1"), ProcessState::kGone);
  // A command may hold spaces and parentheses, even one that looks like a state.
  EXPECT_EQ(parse_process_stat("42 (a) T (b) R 1"), ProcessState::kRunnable);
  EXPECT_EQ(parse_process_stat("42 (x) S) T 1"), ProcessState::kStopped);
  EXPECT_EQ(parse_process_stat("42 (shmraft) ? 1"), ProcessState::kUnknown);
  EXPECT_EQ(parse_process_stat("42 (shmraft)"), ProcessState::kUnknown);
  EXPECT_EQ(parse_process_stat("42 shmraft R"), ProcessState::kUnknown);
  EXPECT_EQ(parse_process_stat(""), ProcessState::kUnknown);
}

// Unknown is not suspect: with no /proc to read, every idle leader's sleep would be taken for a stop.
TEST(ProcessState, OnlyStoppedOrGoneMayBeFrozen) {
  EXPECT_FALSE(may_be_frozen(ProcessState::kRunnable));
  EXPECT_FALSE(may_be_frozen(ProcessState::kSleeping));
  EXPECT_TRUE(may_be_frozen(ProcessState::kStopped));
  EXPECT_TRUE(may_be_frozen(ProcessState::kGone));
  EXPECT_FALSE(may_be_frozen(ProcessState::kUnknown));
}

// Review finding: with /proc unreadable as "no such process" (not mounted, hidepid, another pid namespace)
// a live claim's process looked gone, and the watch suspected every idle leader 2 ms into its sleep.
TEST(ProcessState, NoSuchProcessUnderALiveUnchangedClaimIsUnknownNotGone) {
  const PeerLiveness alive{.alive = true, .incarnation = 3, .pid = 4242};
  EXPECT_EQ(judge_claimed_process(alive, ProcessState::kGone, alive), ProcessState::kUnknown);
  EXPECT_EQ(judge_claimed_process(alive, ProcessState::kStopped, alive), ProcessState::kStopped);
  EXPECT_EQ(judge_claimed_process(alive, ProcessState::kRunnable, alive), ProcessState::kRunnable);
  // The claim died or changed hands while we looked: gone, whatever the pid showed.
  EXPECT_EQ(judge_claimed_process(alive, ProcessState::kRunnable,
                                  PeerLiveness{.alive = false, .incarnation = 3, .pid = 4242}),
            ProcessState::kGone);
  EXPECT_EQ(judge_claimed_process(alive, ProcessState::kRunnable,
                                  PeerLiveness{.alive = true, .incarnation = 4, .pid = 5151}),
            ProcessState::kGone);
  EXPECT_EQ(judge_claimed_process(PeerLiveness{}, ProcessState::kRunnable, PeerLiveness{}),
            ProcessState::kGone);
}

TEST(ProcessState, ThisProcessIsRunningAndNoProcessIsGone) {
  EXPECT_EQ(process_state(::getpid()), ProcessState::kRunnable);  // the main thread, asking
  EXPECT_EQ(process_state(0), ProcessState::kUnknown);
  // Above the largest pid_max (2^22): no such process.
  EXPECT_EQ(process_state(5'000'000), ProcessState::kGone);
}

// waitpid until `child` stopped (WUNTRACED) or continued (WCONTINUED): the kernel's own word that the
// signal took effect, so no sleep stands in for it.
void await_stopped(pid_t child) {
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, WUNTRACED), child);
  ASSERT_TRUE(WIFSTOPPED(status));
}
void await_continued(pid_t child) {
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, WCONTINUED), child);
  ASSERT_TRUE(WIFCONTINUED(status));
}

// Polls (test only) until node `node` is claimed with at least `incarnation`.
void await_claim(const Segment& segment, uint32_t node, uint32_t incarnation) {
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (!(segment.peer_alive(node).alive && segment.peer_alive(node).incarnation >= incarnation)) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "node " << node << " never claimed";
    std::this_thread::sleep_for(1ms);
  }
}

// A node stuck in its loop (a long iteration on a busy host): its counter stands still, yet it runs.
// The stall watch alone would suspect it; the kernel says it is alive until it is really stopped.
TEST(ProcessState, ABusyNodeThatStallsIsRunnableUntilStoppedAndGoneOnceKilled) {
  test::ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), test::tiny_config(2));
  const pid_t child = test::fork_child([&]() -> int {
    Segment mine = Segment::attach(cluster.name());
    LivenessClaim claim = mine.claim_liveness(2);
    mine.progress(2).bump(monotonic_ns());
    std::atomic<uint64_t> spins{0};
    for (;;) spins.fetch_add(1, std::memory_order_relaxed);
  });
  await_claim(segment, 2, 1);
  ASSERT_EQ(segment.peer_alive(2).pid, child);

  ProgressWatch watch = segment.watch_progress(20ms);
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  do {
    std::this_thread::sleep_for(5ms);
    watch.observe(monotonic_ns());
  } while (!watch.stalled(2, monotonic_ns()) && std::chrono::steady_clock::now() < give_up);
  ASSERT_TRUE(watch.stalled(2, monotonic_ns())) << "the counter of a node that never bumps moved";
  EXPECT_EQ(node_process_state(segment, 2), ProcessState::kRunnable)
      << "busy, so running or waiting for a CPU";
  EXPECT_FALSE(may_be_frozen(node_process_state(segment, 2)));

  ASSERT_EQ(::kill(child, SIGSTOP), 0);
  await_stopped(child);
  EXPECT_EQ(node_process_state(segment, 2), ProcessState::kStopped);
  EXPECT_TRUE(may_be_frozen(node_process_state(segment, 2)));

  ASSERT_EQ(::kill(child, SIGCONT), 0);
  await_continued(child);
  EXPECT_EQ(node_process_state(segment, 2), ProcessState::kRunnable);

  ASSERT_EQ(::kill(child, SIGKILL), 0);
  siginfo_t info{};  // dead but not reaped (a zombie): the claim says so already
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(node_process_state(segment, 2), ProcessState::kGone);
  EXPECT_EQ(process_state(child), ProcessState::kGone) << "a zombie";
  EXPECT_EQ(test::wait_child(child), 128 + SIGKILL);
  // Reaped, its pid is free for any process to take: the dead claim answers, not that process.
  EXPECT_EQ(node_process_state(segment, 2), ProcessState::kGone);
}

// A node restarted under the same id is a new incarnation in a new process: that process is asked.
TEST(ProcessState, ASleepingNodeIsSleepingAndARestartedOneIsAskedAboutItsNewProcess) {
  test::ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), test::tiny_config(2));
  auto start_sleeper = [&] {
    return test::fork_child([&]() -> int {
      Segment mine = Segment::attach(cluster.name());
      LivenessClaim claim = mine.claim_liveness(2);
      for (;;) ::pause();
    });
  };
  const pid_t first = start_sleeper();
  await_claim(segment, 2, 1);
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  EXPECT_EQ(test::wait_child(first), 128 + SIGKILL);
  EXPECT_EQ(node_process_state(segment, 2), ProcessState::kGone);

  const pid_t second = start_sleeper();
  await_claim(segment, 2, 2);
  ASSERT_EQ(segment.peer_alive(2).pid, second);
  // Asleep in pause() once it claimed; waiting for a CPU for a moment before that, on a busy host.
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (node_process_state(segment, 2) == ProcessState::kRunnable &&
         std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(node_process_state(segment, 2), ProcessState::kSleeping);
  ASSERT_EQ(::kill(second, SIGSTOP), 0);
  await_stopped(second);
  EXPECT_EQ(node_process_state(segment, 2), ProcessState::kStopped);
  ASSERT_EQ(::kill(second, SIGKILL), 0);
  EXPECT_EQ(test::wait_child(second), 128 + SIGKILL);
  EXPECT_EQ(node_process_state(segment, 2), ProcessState::kGone);
}

}  // namespace
}  // namespace shmraft::ipc
