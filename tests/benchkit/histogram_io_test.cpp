#include "bench/kit/histogram_io.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace shmraft::bench {
namespace {

// Three "client" processes each record their own latencies and send them through one pipe; the parent's
// merge equals recording everything in one histogram.
TEST(HistogramIo, ChildProcessHistogramsMergeThroughPipes) {
  // One pipe per child: writes to a shared pipe are atomic only up to PIPE_BUF, so concurrent writers
  // of multi-kilobyte histograms would interleave.
  constexpr int kClients = 3;
  int read_ends[kClients];
  Histogram expected;
  for (int client = 0; client < kClients; ++client) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    for (uint64_t v = 1; v < 10'000'000; v = v * 11 / 10 + client + 1) expected.record(v);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      Histogram mine;
      for (uint64_t v = 1; v < 10'000'000; v = v * 11 / 10 + client + 1) mine.record(v);
      write_histogram(fds[1], mine);
      _exit(0);
    }
    close(fds[1]);
    read_ends[client] = fds[0];
  }
  Histogram merged;
  int received = 0;
  for (int fd : read_ends) {
    while (auto h = read_histogram(fd)) {
      merged.merge(*h);
      ++received;
    }
    close(fd);
  }
  for (int i = 0; i < kClients; ++i) {
    int status;
    ASSERT_GT(wait(&status), 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(received, kClients);
  EXPECT_EQ(merged, expected);
}

TEST(HistogramIo, TruncatedStreamIsAnError) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  Histogram h;
  h.record(42);
  const std::string bytes = h.serialize();
  const char prefix[4] = {static_cast<char>(bytes.size()), 0, 0, 0};
  ASSERT_EQ(write(fds[1], prefix, 4), 4);
  ASSERT_EQ(write(fds[1], bytes.data(), bytes.size() - 1), static_cast<ssize_t>(bytes.size() - 1));
  close(fds[1]);
  EXPECT_THROW(read_histogram(fds[0]), std::runtime_error);
  close(fds[0]);
}

TEST(HistogramIo, ImplausibleLengthIsRejected) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const char prefix[4] = {0, 0, 0, 0x7F};
  ASSERT_EQ(write(fds[1], prefix, 4), 4);
  close(fds[1]);
  EXPECT_THROW(read_histogram(fds[0]), std::invalid_argument);
  close(fds[0]);
}

}  // namespace
}  // namespace shmraft::bench
