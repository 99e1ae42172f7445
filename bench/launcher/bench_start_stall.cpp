// bench_start_stall: what a process start costs three processes that pass a token around, beside it.
//
//   bench_start_stall [--starts N] [--program PATH]    (default 40 starts of /bin/true per variant)
//
// A client, a "leader" and a "follower" (forked processes) pass a token client -> leader -> follower ->
// leader -> client over futexes in shared memory, each waiting as shmraft's loops do: spin 16 µs, then
// sleep. A fourth process starts PATH (posix_spawn, as the supervisor starts a node) every 100 ms and
// waits for it to exit. Per start: the slowest round trip that overlapped the 30 ms after it; beside it
// the slowest of a 30 ms window 50 ms after the start, when nothing starts. Variants, interleaved start
// by start:
//   shared     the start runs wherever the scheduler puts it
//   isolated   launcher::StartIsolation around it: the relay's threads off the last CPU, the start on
//              it, until it has exited (what `shmraft bench --failover` does until the node recovered)
// Nothing of the node is in it: it measures the host (kernel preemption, wake-up placement, balancing).
#include <fcntl.h>
#include <linux/futex.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ipc/clock.h"
#include "ipc/wait.h"
#include "launcher/start_isolation.h"

extern char** environ;

namespace {

using shmraft::ipc::monotonic_ns;

constexpr uint64_t kSpinNs = 16'000;
constexpr uint64_t kWindowNs = 30'000'000;      // after a start: what it costs
constexpr uint64_t kQuietAfterNs = 50'000'000;  // a window this long after it: what the host gives anyway
constexpr int kMaxStarts = 4096;

struct alignas(64) Cell {
  std::atomic<uint32_t> seq{0};
};

struct Shared {
  Cell leader_inbox, follower_inbox, client_inbox;
  std::atomic<uint64_t> started_at[kMaxStarts];
  std::atomic<bool> isolated[kMaxStarts];
  std::atomic<int> starts{0};
  std::atomic<bool> stop{false};
};

void ring(Cell& cell) {
  cell.seq.fetch_add(1, std::memory_order_release);
  syscall(SYS_futex, &cell.seq, FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

// Spins kSpinNs, then sleeps until `cell` moves past `seen`; returns its new value.
uint32_t await(Cell& cell, uint32_t seen, const Shared& shared) {
  const uint64_t began = monotonic_ns();
  for (;;) {
    const uint32_t now = cell.seq.load(std::memory_order_acquire);
    if (now != seen || shared.stop.load(std::memory_order_relaxed)) return now;
    if (monotonic_ns() - began < kSpinNs) {
      shmraft::ipc::cpu_relax();
    } else {
      syscall(SYS_futex, &cell.seq, FUTEX_WAIT, seen, nullptr, nullptr, 0);
    }
  }
}

pid_t fork_child(auto&& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    body();
    _exit(0);
  }
  if (pid < 0) throw std::runtime_error("fork failed");
  return pid;
}

pid_t spawn(const std::string& program) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  char* argv[] = {const_cast<char*>(program.c_str()), nullptr};
  pid_t pid = 0;
  const int failed = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  return failed ? -1 : pid;
}

double ms(uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

void report(const char* variant, std::vector<uint64_t> after, std::vector<uint64_t> quiet) {
  std::sort(after.begin(), after.end());
  std::sort(quiet.begin(), quiet.end());
  const auto at = [](const std::vector<uint64_t>& v, double q) {
    return v.empty() ? 0.0 : ms(v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))]);
  };
  const auto over_1ms = std::count_if(after.begin(), after.end(), [](uint64_t ns) { return ns > 1'000'000; });
  std::printf(
      "%-9s slowest round trip in the 30 ms after a start: p50 %.2f  p90 %.2f  max %.2f ms "
      "(%ld of %zu over 1 ms);  in a window without: p50 %.2f  p90 %.2f  max %.2f ms\n",
      variant, at(after, 0.5), at(after, 0.9), after.empty() ? 0.0 : ms(after.back()), over_1ms, after.size(),
      at(quiet, 0.5), at(quiet, 0.9), quiet.empty() ? 0.0 : ms(quiet.back()));
}

int run(int starts, const std::string& program) {
  void* memory = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::runtime_error("mmap failed");
  auto* shared = new (memory) Shared;
  const pid_t client = getpid();
  const pid_t leader = fork_child([&] {
    uint32_t seen = 0;
    for (bool to_follower = true; !shared->stop; to_follower = !to_follower) {
      seen = await(shared->leader_inbox, seen, *shared);
      ring(to_follower ? shared->follower_inbox : shared->client_inbox);
    }
  });
  const pid_t follower = fork_child([&] {
    uint32_t seen = 0;
    while (!shared->stop) {
      seen = await(shared->follower_inbox, seen, *shared);
      ring(shared->leader_inbox);
    }
  });
  const pid_t starter = fork_child([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (int i = 0; i < 2 * starts; ++i) {
      const bool isolated = i % 2 == 1;
      std::optional<shmraft::launcher::StartIsolation> isolation;
      if (isolated) {
        using shmraft::launcher::CommitPath;
        isolation.emplace(
            std::vector<shmraft::launcher::RunningProcess>{{client, CommitPath::every_thread},
                                                           {leader, CommitPath::every_thread},
                                                           {follower, CommitPath::every_thread}});
      }
      shared->isolated[i] = isolated;
      shared->started_at[i] = monotonic_ns();
      const pid_t started = spawn(program);
      if (isolation) isolation->spawned(started);
      if (started > 0) waitpid(started, nullptr, 0);
      isolation.reset();
      shared->starts = i + 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    shared->stop = true;
    for (Cell* cell : {&shared->leader_inbox, &shared->follower_inbox, &shared->client_inbox}) ring(*cell);
  });

  struct Trip {
    uint64_t began, took;
  };
  std::vector<Trip> trips;
  trips.reserve(std::size_t{1} << 22);
  uint32_t seen = 0;
  while (!shared->stop.load(std::memory_order_relaxed)) {
    const uint64_t began = monotonic_ns();
    ring(shared->leader_inbox);
    seen = await(shared->client_inbox, seen, *shared);
    if (trips.size() < trips.capacity()) trips.push_back({began, monotonic_ns() - began});
  }
  for (const pid_t pid : {leader, follower, starter}) waitpid(pid, nullptr, 0);

  std::vector<uint64_t> after[2], quiet[2];
  for (int i = 0; i < shared->starts; ++i) {
    const uint64_t at = shared->started_at[i];
    uint64_t worst_after = 0, worst_quiet = 0;
    for (const Trip& t : trips) {
      if (t.began + t.took >= at && t.began < at + kWindowNs) worst_after = std::max(worst_after, t.took);
      if (t.began >= at + kQuietAfterNs && t.began < at + kQuietAfterNs + kWindowNs)
        worst_quiet = std::max(worst_quiet, t.took);
    }
    after[shared->isolated[i]].push_back(worst_after);
    quiet[shared->isolated[i]].push_back(worst_quiet);
  }
  utsname host{};
  uname(&host);
  std::printf(
      "bench_start_stall: %s started %d times per variant beside a 3-process relay; %zu round trips; "
      "%u CPUs, %s %s\n",
      program.c_str(), starts, trips.size(), std::thread::hardware_concurrency(), host.sysname, host.release);
  report("shared", after[0], quiet[0]);
  report("isolated", after[1], quiet[1]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int starts = 40;
  std::string program = "/bin/true";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--starts" && i + 1 < argc) {
      starts = std::atoi(argv[++i]);
    } else if (arg == "--program" && i + 1 < argc) {
      program = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: %s [--starts N] [--program PATH]   (1 <= N <= %d, default 40 of /bin/true)\n",
                   argv[0], kMaxStarts / 2);
      return 2;
    }
  }
  if (starts < 1 || starts > kMaxStarts / 2) {
    std::fprintf(stderr, "--starts must be 1..%d\n", kMaxStarts / 2);
    return 2;
  }
  if (access(program.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "bench_start_stall: cannot execute %s\n", program.c_str());
    return 2;
  }
  try {
    return run(starts, program);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_start_stall: %s\n", e.what());
    return 1;
  }
}
