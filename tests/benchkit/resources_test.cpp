#include "bench/kit/resources.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "ipc/clock.h"

namespace shmraft::bench {
namespace {

void burn_cpu(uint64_t ns) {
  const uint64_t end = ipc::monotonic_ns() + ns;
  volatile uint64_t sink = 0;
  while (ipc::monotonic_ns() < end) sink = sink + 1;
}

TEST(Resources, ReadsThisProcess) {
  burn_cpu(50'000'000);
  const CpuTimes cpu = read_cpu_times(getpid());
  EXPECT_GT(cpu.total_s(), 0.0);
  EXPECT_GE(cpu.user_s, 0.0);
  EXPECT_GE(cpu.system_s, 0.0);
  EXPECT_GT(read_peak_rss_bytes(getpid()), 1u << 20);
}

TEST(Resources, GoneProcessIsAClearError) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  ASSERT_EQ(reap_child(child).pid, child);
  try {
    read_cpu_times(child);
    FAIL() << "reading a reaped process succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(child)), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_peak_rss_bytes(child), std::runtime_error);
  EXPECT_THROW(reap_child(child), std::runtime_error);
}

// A child that touches 64 MiB and burns CPU until told to stop (its stdin pipe closes).
pid_t spawn_busy_child(int& stop_pipe_write_end) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[1]);
    std::vector<char> memory(64 << 20);
    std::memset(memory.data(), 1, memory.size());
    char byte;
    // Burn CPU in slices, checking the pipe between them.
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    while (read(fds[0], &byte, 1) < 0) burn_cpu(1'000'000);
    _exit(memory[12345] == 1 ? 0 : 1);
  }
  close(fds[0]);
  stop_pipe_write_end = fds[1];
  return pid;
}

TEST(Resources, MeterAndReapAccountForAChildsCpuAndPeakMemory) {
  int stop = -1;
  const pid_t child = spawn_busy_child(stop);
  ASSERT_GT(child, 0);
  // Wait until it has touched its memory.
  const uint64_t deadline = ipc::monotonic_ns() + 10'000'000'000ULL;
  while (read_peak_rss_bytes(child) < (64u << 20) && ipc::monotonic_ns() < deadline) usleep(1000);
  EXPECT_GE(read_peak_rss_bytes(child), 64u << 20);

  CpuMeter meter({child});
  meter.start(ipc::monotonic_ns());
  usleep(300'000);
  const CpuUsage usage = meter.stop(ipc::monotonic_ns());
  ASSERT_EQ(usage.per_process.size(), 1u);
  EXPECT_EQ(usage.per_process[0].pid, child);
  EXPECT_GT(usage.total.total_s(), 0.0);
  // It can use at most one core, give or take a clock tick of rounding.
  EXPECT_LE(usage.total.total_s(), usage.wall_s + 0.02);
  EXPECT_GT(usage.cores(), 0.0);
  EXPECT_DOUBLE_EQ(usage.cpu_s_per_op(1000), usage.total.total_s() / 1000);
  EXPECT_EQ(usage.cpu_s_per_op(0), 0.0);

  close(stop);
  const ChildExit exit = reap_child(child);
  ASSERT_TRUE(WIFEXITED(exit.status));
  EXPECT_EQ(WEXITSTATUS(exit.status), 0);
  EXPECT_GE(exit.cpu.total_s(), usage.total.total_s() - 0.02);
  EXPECT_GE(exit.peak_rss_bytes, 64u << 20);
}

TEST(Resources, MeterStopBeforeStartIsAnError) {
  CpuMeter meter({getpid()});
  EXPECT_THROW(meter.stop(ipc::monotonic_ns()), std::logic_error);
}

}  // namespace
}  // namespace shmraft::bench
