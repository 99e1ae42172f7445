// ValueCopier: the thread that copies the value memory after a snapshot's fork (value_copier.h). Counted
// with getrusage's minor faults, as in unshare_after_fork_test.cpp: once its copy finished, the parent
// overwrites every value and hardly faults (without the copy, once per value page). The children read
// the state of their own fork, a second fork in the middle of a copy included.
#include "node/kv/value_copier.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "node/kv/state_machine.h"
#include "tests/kv/kv_test_util.h"
#include "tests/page_faults.h"

namespace shmraft::kv {
namespace {
using namespace test;
using shmraft::testing::fault_counts_are_the_programs;
using shmraft::testing::minor_faults;
using namespace std::chrono_literals;

constexpr int kKeys = 16384;
constexpr std::size_t kValueBytes = 256;  // 1 024 pages of values, ~10 ms to copy
constexpr long kValuePages = kKeys * static_cast<long>(kValueBytes) / 4096;

void put_all(StateMachine& kv, uint64_t& index, int from, int to, char fill) {
  for (int k = from; k < to; ++k)
    kv.apply(++index, encode(put(numbered("key", k), std::string(kValueBytes, fill))));
}

// A stand-in for a snapshot child: holds its copy of `kv` until the gate closes, then exits 0 if every key
// up to `split` holds `first` and every other key `rest`.
struct Child {
  pid_t pid = -1;
  int gate = -1;  // the parent's end

  Child(const StateMachine& kv, int split, char first, char rest) {
    int pipe_ends[2];
    if (::pipe(pipe_ends) != 0) return;
    pid = ::fork();
    if (pid == 0) {
      ::close(pipe_ends[1]);
      char byte;
      (void)::read(pipe_ends[0], &byte, 1);
      for (int k = 0; k < kKeys; ++k) {
        if (kv.get(numbered("key", k)) != std::string(kValueBytes, k < split ? first : rest)) _exit(1);
      }
      _exit(0);
    }
    ::close(pipe_ends[0]);
    gate = pipe_ends[1];
  }
  // The exit code once released.
  int release() {
    ::close(gate);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

bool wait_for(const ValueCopier& copier, uint64_t job) {
  for (auto deadline = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(1ms)) {
    if (copier.finished() >= job) return true;
  }
  return false;
}

TEST(ValueCopier, CopiesTheValuesOfAForkSoTheParentWritesThemWithoutFaults) {
  StateMachine kv;
  uint64_t index = 0;
  put_all(kv, index, 0, kKeys, 'a');
  ValueCopier copier;
  Child child(kv, kKeys, 'a', 'a');
  ASSERT_GT(child.pid, 0);
  const uint64_t job = copier.copy(kv.value_memory());
  ASSERT_TRUE(wait_for(copier, job));
  const long before = minor_faults();
  put_all(kv, index, 0, kKeys, 'b');
  if (fault_counts_are_the_programs()) {
    EXPECT_LT(minor_faults() - before, kValuePages / 16)
        << "the copier copied the pages before apply wrote them";
  }
  EXPECT_EQ(child.release(), 0) << "the child read the state of its fork";
}

TEST(ValueCopier, ASecondForkWhileACopyRunsIsCopiedForAndEachChildReadsItsOwnState) {
  StateMachine kv;
  uint64_t index = 0;
  put_all(kv, index, 0, kKeys, 'a');
  ValueCopier copier;
  Child first(kv, kKeys, 'a', 'a');
  ASSERT_GT(first.pid, 0);
  copier.copy(kv.value_memory());
  put_all(kv, index, 0, kKeys / 2, 'b');  // apply goes on beside the copy, and a second fork follows it
  Child second(kv, kKeys / 2, 'b', 'a');
  ASSERT_GT(second.pid, 0);
  const uint64_t job = copier.copy(kv.value_memory());
  ASSERT_TRUE(wait_for(copier, job));
  const long before = minor_faults();
  put_all(kv, index, 0, kKeys, 'c');
  if (fault_counts_are_the_programs()) {
    EXPECT_LT(minor_faults() - before, kValuePages / 16) << "the newest fork's pages were copied";
  }
  EXPECT_EQ(second.release(), 0);  // first: it holds the first child's gate too, from its fork
  EXPECT_EQ(first.release(), 0);
  EXPECT_EQ(kv.get(numbered("key", 0)), std::string(kValueBytes, 'c'));
}

}  // namespace
}  // namespace shmraft::kv
