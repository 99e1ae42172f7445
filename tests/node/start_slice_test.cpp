// A starting node's time slice (node/process/start_slice.h): the supervisor's spawn hands the start
// slice to the process it starts, and a node serves with the default slice on every thread.
#include "node/process/start_slice.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "launcher/child_process.h"
#include "tests/node/test_cluster.h"
#include "tests/temp_dir.h"

namespace shmraft::node {
namespace {

using namespace std::chrono_literals;

// Whether this kernel has custom slices (Linux 6.12 on): a slice set on a thread reads back.
bool kernel_has_custom_slices() {
  bool has = false;
  std::thread probe([&] {
    const StartSliceForChildren start_slice;
    has = slice_of() == kStartSliceNs;
  });
  probe.join();
  return has;
}

TEST(StartSlice, AProcessTheSupervisorStartsHasTheStartSlice) {
  if (!kernel_has_custom_slices()) GTEST_SKIP() << "this kernel has no custom slices (Linux < 6.12)";
  const uint64_t own = slice_of();
  shmraft::testing::TempDir dir("shmraft-start-slice");
  const pid_t child = launcher::spawn_child({"/bin/sleep", "30"}, dir.path() / "output");
  const uint64_t child_slice = slice_of(child);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(child_slice, kStartSliceNs);
  EXPECT_EQ(slice_of(), own) << "the spawning thread keeps its own slice";
}

TEST(StartSlice, ANodeStartedWithItServesWithTheDefaultSliceOnEveryThread) {
  if (!kernel_has_custom_slices()) GTEST_SKIP() << "this kernel has no custom slices (Linux < 6.12)";
  testing::TestCluster cluster(1, "start-slice");
  {
    const StartSliceForChildren start_slice;  // the forked node inherits it, as from spawn_child
    cluster.start(1);
  }
  ASSERT_TRUE(cluster.wait_for_leader(20s)) << cluster.log_tail(1);
  const auto pid = static_cast<pid_t>(cluster.segment().node_counters(1).pid.load());
  ASSERT_GT(pid, 0);
  int threads = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    const auto tid = static_cast<pid_t>(std::stol(task.path().filename().string()));
    EXPECT_NE(slice_of(tid), kStartSliceNs) << "thread " << tid << " of the serving node";
    ++threads;
  }
  EXPECT_GT(threads, 1) << "the node's own threads (liveness) are covered too";
}

}  // namespace
}  // namespace shmraft::node
