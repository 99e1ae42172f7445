// StartIsolation on this test process's threads (standing in for the running nodes and the clients) and
// on a forked child (standing in for the node started): who may run where during the start, and that
// end() gives every thread the CPUs it had. Then the Supervisor's starts on a CPU of their own, with
// `sleep` processes for nodes: what `shmraft up` and `bench --failover` use.
#include "launcher/start_isolation.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "launcher/supervisor.h"
#include "tests/cpu_sets.h"
#include "tests/temp_dir.h"

namespace shmraft::launcher {
namespace {

using testing::cpus_of;
using testing::last_cpu;
using testing::only;
using testing::same;
using testing::without;

// A thread of this process that waits until told to end, and says its thread id.
class ParkedThread {
 public:
  ParkedThread() : thread_([this] { run(); }) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return tid_ != 0; });
  }
  ~ParkedThread() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }
  pid_t tid() const { return tid_; }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    tid_ = gettid();
    changed_.notify_all();
    changed_.wait(lock, [&] { return done_; });
  }
  std::mutex mutex_;
  std::condition_variable changed_;
  pid_t tid_ = 0;
  bool done_ = false;
  std::thread thread_;
};

// A child forked now (it runs where the calling thread may run), pausing until killed.
struct PausedChild {
  pid_t pid = fork();
  PausedChild() {
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (;;) pause();
    }
  }
  ~PausedChild() {
    if (pid <= 0) return;  // fork failed: kill(-1) would signal every process of the user
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
};

// Restores the calling thread's CPUs when a test that narrowed them ends.
struct CallerCpus {
  cpu_set_t had = cpus_of(0);
  ~CallerCpus() { sched_setaffinity(0, sizeof(had), &had); }
};

TEST(StartIsolation, TheRunningLeaveOneCpuTheStartedHasItAndEveryoneGetsTheirCpusBack) {
  const CallerCpus caller;
  if (CPU_COUNT(&caller.had) < 2) GTEST_SKIP() << "needs two CPUs to isolate one (this process has one)";
  const int isolated = last_cpu(caller.had);
  const cpu_set_t others = without(caller.had, isolated);
  ParkedThread running;  // e.g. a client thread of the benchmark

  StartIsolation isolation({{getpid(), CommitPath::every_thread}});
  ASSERT_TRUE(isolation.active());
  EXPECT_EQ(isolation.isolated_cpu(), isolated) << "the last CPU this process may use";
  EXPECT_TRUE(same(cpus_of(running.tid()), others)) << "a running thread must leave the isolated CPU";
  EXPECT_TRUE(same(cpus_of(0), only(isolated))) << "what the caller spawns now must start there";

  PausedChild started;  // forked from the caller: starts on the isolated CPU, as a spawned node does
  ASSERT_GT(started.pid, 0);
  isolation.spawned(started.pid);
  EXPECT_TRUE(same(cpus_of(started.pid), only(isolated)));
  EXPECT_TRUE(same(cpus_of(0), only(isolated))) << "the caller stays beside the start until the end";
  EXPECT_TRUE(same(cpus_of(running.tid()), others));
  ParkedThread born;  // a thread of a running process born meanwhile (here of the caller)

  isolation.end();
  EXPECT_FALSE(isolation.active());
  EXPECT_TRUE(same(cpus_of(running.tid()), caller.had));
  EXPECT_TRUE(same(cpus_of(born.tid()), caller.had)) << "a thread born meanwhile gets its main thread's";
  EXPECT_TRUE(same(cpus_of(0), caller.had));
  EXPECT_TRUE(same(cpus_of(started.pid), caller.had)) << "the started process gets the caller's CPUs";
  isolation.end();  // idempotent
  EXPECT_TRUE(same(cpus_of(running.tid()), caller.had));
}

TEST(StartIsolation, AThreadAllowedOnlyTheIsolatedCpuStaysThereAndTheDestructorEnds) {
  const CallerCpus caller;
  if (CPU_COUNT(&caller.had) < 2) GTEST_SKIP() << "needs two CPUs to isolate one (this process has one)";
  const int isolated = last_cpu(caller.had);
  ParkedThread pinned;
  const cpu_set_t pinned_cpus = only(isolated);
  ASSERT_EQ(sched_setaffinity(pinned.tid(), sizeof(pinned_cpus), &pinned_cpus), 0);
  ParkedThread running;
  {
    StartIsolation isolation({{getpid(), CommitPath::every_thread}});
    ASSERT_TRUE(isolation.active());
    EXPECT_TRUE(same(cpus_of(pinned.tid()), pinned_cpus)) << "nowhere else to go: left where it is";
    EXPECT_TRUE(same(cpus_of(running.tid()), without(caller.had, isolated)));
  }
  EXPECT_TRUE(same(cpus_of(pinned.tid()), pinned_cpus));
  EXPECT_TRUE(same(cpus_of(running.tid()), caller.had)) << "the destructor must end the isolation";
  EXPECT_TRUE(same(cpus_of(0), caller.had));
}

// CPUs given to a thread meanwhile (a user's taskset) are the later word: end() leaves them.
TEST(StartIsolation, CpusSetByOthersDuringTheStartAreKept) {
  const CallerCpus caller;
  if (CPU_COUNT(&caller.had) < 2) GTEST_SKIP() << "needs two CPUs to isolate one (this process has one)";
  ParkedThread retargeted;
  ParkedThread untouched;
  const cpu_set_t users_choice = only(last_cpu(caller.had));  // not what the isolation gave it
  {
    StartIsolation isolation({{getpid(), CommitPath::every_thread}});
    ASSERT_TRUE(isolation.active());
    ASSERT_EQ(sched_setaffinity(retargeted.tid(), sizeof(users_choice), &users_choice), 0);
  }
  EXPECT_TRUE(same(cpus_of(retargeted.tid()), users_choice)) << "end() undid a choice made after its own";
  EXPECT_TRUE(same(cpus_of(untouched.tid()), caller.had));
}

// A node's background threads join the start on its CPU. (Its loop, the main thread, leaves it: the
// SupervisorStart cases below, whose nodes are single-threaded processes.)
TEST(StartIsolation, ANodesBackgroundThreadsJoinTheStart) {
  const CallerCpus caller;
  if (CPU_COUNT(&caller.had) < 2) GTEST_SKIP() << "needs two CPUs to isolate one (this process has one)";
  const int isolated = last_cpu(caller.had);
  ParkedThread background;
  {
    StartIsolation isolation({{getpid(), CommitPath::main_thread}});
    ASSERT_TRUE(isolation.active());
    EXPECT_TRUE(same(cpus_of(background.tid()), only(isolated))) << "background work goes with the start";
  }
  EXPECT_TRUE(same(cpus_of(background.tid()), caller.had));
  EXPECT_TRUE(same(cpus_of(0), caller.had));
}

TEST(StartIsolation, DoesNothingWhereOnlyOneCpuIsAllowed) {
  const CallerCpus caller;
  const cpu_set_t one = only(last_cpu(caller.had));
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  ParkedThread running;  // inherits the one CPU
  StartIsolation isolation({{getpid(), CommitPath::every_thread}});
  EXPECT_FALSE(isolation.active());
  EXPECT_EQ(isolation.isolated_cpu(), std::nullopt);
  isolation.spawned(getpid());
  isolation.end();
  EXPECT_TRUE(same(cpus_of(running.tid()), one));
  EXPECT_TRUE(same(cpus_of(0), one));
}

// Nodes that are `sleep` processes: single-threaded, so each one's main thread is all of it.
Supervisor sleeping_nodes(uint32_t nodes, const std::filesystem::path& dir) {
  return Supervisor(nodes, [dir](uint32_t node) {
    return Supervisor::Launch{{"/bin/sleep", "60"}, dir / ("node" + std::to_string(node) + ".out")};
  });
}

TEST(SupervisorStart, OnACpuOfItsOwnTheRunningNodesAndClientsLeaveItUntilTheOwnerEndsIt) {
  const CallerCpus caller;
  if (CPU_COUNT(&caller.had) < 2) GTEST_SKIP() << "needs two CPUs to isolate one (this process has one)";
  const int isolated = last_cpu(caller.had);
  const cpu_set_t others = without(caller.had, isolated);
  const testing::TempDir dir;
  Supervisor supervisor = sleeping_nodes(3, dir.path());
  supervisor.start(1);
  supervisor.start(2);
  PausedChild client;
  ASSERT_GT(client.pid, 0);

  const pid_t started = supervisor.start(3, StartPlacement::own_cpu, {client.pid});
  ASSERT_TRUE(supervisor.isolated_start());
  EXPECT_EQ(supervisor.isolated_start()->node, 3u);
  EXPECT_EQ(supervisor.isolated_start()->cpu, isolated);
  EXPECT_TRUE(same(cpus_of(started), only(isolated)));
  for (const uint32_t node : {1u, 2u}) EXPECT_TRUE(same(cpus_of(supervisor.pid(node)), others)) << node;
  EXPECT_TRUE(same(cpus_of(client.pid), others)) << "a client is on the commit path";
  EXPECT_TRUE(same(cpus_of(0), only(isolated))) << "the supervisor stays beside the start";

  supervisor.end_start_isolation();
  EXPECT_FALSE(supervisor.isolated_start());
  for (const uint32_t node : {1u, 2u, 3u})
    EXPECT_TRUE(same(cpus_of(supervisor.pid(node)), caller.had)) << node;
  EXPECT_TRUE(same(cpus_of(client.pid), caller.had));
  EXPECT_TRUE(same(cpus_of(0), caller.had));
}

TEST(SupervisorStart, AnIsolationEndsWithItsNodeOrTheNextStartAndASharedStartMovesNothing) {
  const CallerCpus caller;
  if (CPU_COUNT(&caller.had) < 2) GTEST_SKIP() << "needs two CPUs to isolate one (this process has one)";
  const testing::TempDir dir;
  Supervisor supervisor = sleeping_nodes(3, dir.path());
  supervisor.start(1);
  supervisor.start(2, StartPlacement::own_cpu);
  supervisor.kill(2);
  EXPECT_FALSE(supervisor.isolated_start()) << "a killed node's start holds no CPU";
  EXPECT_TRUE(same(cpus_of(supervisor.pid(1)), caller.had));

  supervisor.start(2, StartPlacement::own_cpu);
  supervisor.start(3, StartPlacement::own_cpu);
  ASSERT_TRUE(supervisor.isolated_start());
  EXPECT_EQ(supervisor.isolated_start()->node, 3u) << "one start isolated at a time: the latest";
  EXPECT_TRUE(same(cpus_of(supervisor.pid(2)), without(caller.had, supervisor.isolated_start()->cpu)))
      << "the earlier start is now a running node";
  supervisor.stop(3, std::chrono::milliseconds(1000));
  EXPECT_FALSE(supervisor.isolated_start());
  for (const uint32_t node : {1u, 2u}) EXPECT_TRUE(same(cpus_of(supervisor.pid(node)), caller.had)) << node;

  supervisor.start(3);
  EXPECT_FALSE(supervisor.isolated_start());
  for (const uint32_t node : {1u, 2u, 3u})
    EXPECT_TRUE(same(cpus_of(supervisor.pid(node)), caller.had)) << node;
}

TEST(SupervisorStart, WhereOnlyOneCpuIsAllowedAnOwnCpuStartHoldsNone) {
  const CallerCpus caller;
  const cpu_set_t one = only(last_cpu(caller.had));
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  const testing::TempDir dir;
  Supervisor supervisor = sleeping_nodes(2, dir.path());
  supervisor.start(1);
  supervisor.start(2, StartPlacement::own_cpu);
  EXPECT_FALSE(supervisor.isolated_start());
  for (const uint32_t node : {1u, 2u}) EXPECT_TRUE(same(cpus_of(supervisor.pid(node)), one)) << node;
}

}  // namespace
}  // namespace shmraft::launcher
