// MmKeeper in this process and in forked owners: it shares the owner's memory and holds nothing else,
// outlives a killed owner by its linger at idle priority and then exits, and its owner's stop() leaves
// nothing — also when the keeper was killed first. In sanitizer builds there is no keeper
// (mm_keeper.h says why); the tests check that instead.
#include "launcher/mm_keeper.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "launcher/child_process.h"

namespace shmraft::launcher {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A line "Name:\tvalue" of /proc/<pid>/status, the value only ("" if absent).
std::string status_field(pid_t pid, const std::string& name) {
  std::istringstream lines(read_proc_file(pid, "status"));
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(name + ":")) {
      const std::size_t value = line.find_first_not_of(" \t", name.size() + 1);
      return value == std::string::npos ? "" : line.substr(value);
    }
  }
  return "";
}

// The fields of /proc/<pid>/stat after "(comm)": [0] is the state, [1] the parent, [38] the policy.
std::vector<std::string> stat_fields(pid_t pid) {
  const std::string stat = read_proc_file(pid, "stat");
  const std::size_t comm_end = stat.rfind(')');
  std::vector<std::string> fields;
  if (comm_end == std::string::npos) return fields;
  std::istringstream rest(stat.substr(comm_end + 1));
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

int policy_of(pid_t pid) {
  const std::vector<std::string> fields = stat_fields(pid);
  return fields.size() > 38 ? std::stoi(fields[38]) : -1;
}

std::vector<std::string> open_files(pid_t pid) {
  std::vector<std::string> targets;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec))
    targets.push_back(std::filesystem::read_symlink(entry.path(), ec).string());
  return targets;
}

template <class Predicate>
bool eventually(Predicate&& done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// A forked owner that maps a named memfd (so its memory can be recognised in the keeper's maps), starts
// a keeper, reports the keeper's pid on a pipe and then waits to be killed, or exits at once. Only
// async-signal-safe calls in the child: it is a fork of this multi-threaded test.
struct ForkedOwner {
  pid_t owner = 0;
  pid_t keeper = 0;

  ForkedOwner(std::chrono::nanoseconds linger, bool exit_at_once) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    owner = fork();
    if (owner < 0) throw std::runtime_error("fork");
    if (owner == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
      const int probe = memfd_create("mm-keeper-owner-probe", MFD_CLOEXEC);
      if (probe < 0 || ftruncate(probe, 4096) != 0 ||
          mmap(nullptr, 4096, PROT_READ, MAP_SHARED, probe, 0) == MAP_FAILED)
        _exit(1);
      MmKeeper own;  // never stopped: this owner exits or is killed
      try {
        own = MmKeeper::start(linger);
      } catch (...) {
        _exit(2);
      }
      const pid_t started = own.pid();
      if (write(report[1], &started, sizeof started) != static_cast<ssize_t>(sizeof started)) _exit(3);
      if (exit_at_once) _exit(0);
      for (;;) pause();
    }
    close(report[1]);
    pollfd readable{report[0], POLLIN, 0};
    if (poll(&readable, 1, 10000) == 1 &&
        read(report[0], &keeper, sizeof keeper) != static_cast<ssize_t>(sizeof keeper))
      keeper = 0;
    close(report[0]);
  }
  ~ForkedOwner() {
    if (owner > 0) {
      kill(owner, SIGKILL);
      waitpid(owner, nullptr, 0);
    }
  }
  void kill_and_reap() {
    kill(owner, SIGKILL);
    waitpid(owner, nullptr, 0);
    owner = 0;
  }
};

// The keeper's pid, checked: positive where keepers are supported, 0 in a sanitizer build (which starts
// none; the test then has nothing more to check).
pid_t checked_keeper(pid_t keeper) {
  if (!kMmKeeperSupported) {
    EXPECT_EQ(keeper, 0) << "a sanitizer build starts no keeper";
    return 0;
  }
  EXPECT_GT(keeper, 0) << "no keeper was started";
  return std::max(keeper, pid_t{0});
}

TEST(MmKeeper, SharesTheMemoryHoldsOnlyTheOwnersPidfdAndBlocksEverySignal) {
  MmKeeper keeper = MmKeeper::start(20ms);
  const pid_t pid = checked_keeper(keeper.pid());
  if (pid == 0) return;
  EXPECT_EQ(status_field(pid, "Tgid"), std::to_string(pid)) << "a process of its own, not a thread";
  EXPECT_EQ(status_field(pid, "PPid"), std::to_string(getpid()));
  // It names itself once set up: its files closed but the owner's pidfd, its CPU and policy set.
  ASSERT_TRUE(eventually([&] { return status_field(pid, "Name") == "shmraft-keeper"; }, 10s));
  const std::vector<std::string> files = open_files(pid);
  ASSERT_EQ(files.size(), 1u) << "stdin, stdout, stderr and this test's files are the owner's alone";
  EXPECT_EQ(files[0], "anon_inode:[pidfd]");
  EXPECT_EQ(status_field(pid, "SigBlk"), "fffffffffffbfeff") << "every signal but SIGKILL and SIGSTOP";
  EXPECT_EQ(policy_of(pid), SCHED_BATCH) << "idle priority only once the owner is gone";
  // It lives on the last CPU the owner may use: where a restart runs alone (start_isolation.h).
  cpu_set_t owner_cpus;
  ASSERT_EQ(sched_getaffinity(0, sizeof(owner_cpus), &owner_cpus), 0);
  int last = -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &owner_cpus)) last = cpu;
  }
  EXPECT_TRUE(eventually(
      [&] {
        cpu_set_t keeper_cpus;
        return sched_getaffinity(pid, sizeof(keeper_cpus), &keeper_cpus) == 0 &&
               CPU_COUNT(&keeper_cpus) == 1 && CPU_ISSET(last, &keeper_cpus);
      },
      10s))
      << "the keeper must run on CPU " << last << " alone";
  // One address space: what the owner maps now, after the clone, the keeper maps too.
  const int probe = memfd_create("mm-keeper-probe", MFD_CLOEXEC);
  ASSERT_GE(probe, 0);
  ASSERT_EQ(ftruncate(probe, 4096), 0);
  void* mapped = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, probe, 0);
  ASSERT_NE(mapped, MAP_FAILED);
  EXPECT_NE(read_proc_file(pid, "maps").find("mm-keeper-probe"), std::string::npos);
  munmap(mapped, 4096);
  close(probe);

  keeper.stop();
  EXPECT_EQ(keeper.pid(), 0);
  EXPECT_EQ(read_proc_file(pid, "stat"), "") << "killed and reaped: not even a zombie is left";
}

TEST(MmKeeper, OutlivesAKilledOwnerHoldingItsMemoryAtIdlePriorityThenExits) {
  ForkedOwner forked(2s, /*exit_at_once=*/false);
  const pid_t keeper = checked_keeper(forked.keeper);
  if (keeper == 0) return;
  EXPECT_EQ(status_field(keeper, "PPid"), std::to_string(forked.owner));
  const auto killed = Clock::now();
  forked.kill_and_reap();
  // The owner is gone (reaped); its memory is not: the keeper, lingering 2 s, still maps it.
  EXPECT_TRUE(process_exists(keeper));
  EXPECT_NE(read_proc_file(keeper, "maps").find("mm-keeper-owner-probe"), std::string::npos);
  EXPECT_TRUE(eventually([&] { return policy_of(keeper) == SCHED_IDLE; }, 10s))
      << "the keeper must see its owner's death and drop to idle priority";
  EXPECT_TRUE(eventually([&] { return !process_exists(keeper); }, 30s)) << "the keeper must end";
  const auto lived = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed);
  EXPECT_GE(lived, 2s) << "it left before its linger";
  std::cout << "keeper outlived its killed owner by " << lived.count() << " ms (linger 2000 ms)\n";
}

// An owner that dies as soon as the keeper is cloned (the pidfd was opened before the clone, so even an
// owner gone before its keeper first ran is seen dead).
TEST(MmKeeper, AnOwnerThatExitsAtOnceStillEndsItsKeeper) {
  ForkedOwner forked(20ms, /*exit_at_once=*/true);
  if (checked_keeper(forked.keeper) == 0) return;
  const auto exited = Clock::now();
  EXPECT_TRUE(eventually([&] { return !process_exists(forked.keeper); }, 30s));
  std::cout << "keeper gone "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - exited).count()
            << " ms after its owner exited (linger 20 ms; idle priority on a busy host may add more)\n";
}

TEST(MmKeeper, AKeeperKilledFirstStaysTheOwnersUnreapedChildUntilStop) {
  MmKeeper keeper = MmKeeper::start(20ms);
  const pid_t pid = checked_keeper(keeper.pid());
  if (pid == 0) return;
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  EXPECT_TRUE(eventually([&] { return !stat_fields(pid).empty() && stat_fields(pid)[0] == "Z"; }, 10s))
      << "dead, and reaped by nobody but its owner (it sends no SIGCHLD)";
  keeper.stop();
  EXPECT_EQ(read_proc_file(pid, "stat"), "");
}

}  // namespace
}  // namespace shmraft::launcher
