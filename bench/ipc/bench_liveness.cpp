// bench_liveness: how soon a node asleep on its doorbell learns that a peer was SIGKILLed, and what the
// progress counter costs (issue 13).
//
//   bench_liveness [--kills N]    (default 300 per variant; variants interleaved round by round)
//
// Each round forks a child that attaches and claims node 2, lets the parent (node 1) fall asleep, and
// SIGKILLs the child from a second thread of the parent; the latency is CLOCK_MONOTONIC from just
// before kill(2) to the sleeper running again. Variants:
//   direct    the sleeper's futex_waitv includes the death cell (DeathWatch bound to its thread): the
//             kernel's robust-list walk wakes it. What ipc ships.
//   watcher   a watcher thread sleeps on the cell (DeathWatch::wait_for_death) and rings the sleeper's
//             doorbell: one more wake-up.
//   pidfd     the sleeper polls a pidfd of the child: readable only at the end of the exit (exit_notify,
//             after memory and files are torn down); its best case (no doorbell in between).
//   floor     no kill: the second thread rings the sleeper's doorbell instead (the child is killed
//             afterwards, untimed). A bare futex wake-up on this machine, now: what no variant can beat.
// Then the ns per ProgressCounter::bump, ProgressWatch::observe and DeathWatch::pending (3 nodes).
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "ipc/clock.h"
#include "ipc/segment.h"
#include "ipc/wait.h"

namespace shmraft::ipc {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

enum class Variant { direct, watcher, pidfd, floor };
constexpr int kVariants = 4;
constexpr const char* kVariantNames[] = {"direct", "watcher", "pidfd", "floor"};

using bench::reap;

pid_t spawn_node(const std::string& cluster, uint32_t node) {
  return bench::fork_child([&] {
    Segment segment = Segment::attach(cluster);
    LivenessClaim claim = segment.claim_liveness(node);
    for (;;) ::pause();
  });
}

struct Round {
  double latency_us = 0;
  bool slept = false;  // the sleeper was in the kernel when the kill came (else the figure is moot)
};

// One kill of a freshly started node 2, observed by node 1 as `variant`.
Round kill_once(Segment& segment, DeathWatch& deaths, uint32_t incarnation, Variant variant) {
  const pid_t child = spawn_node(segment.cluster(), 2);
  while (!(segment.peer_alive(2).alive && segment.peer_alive(2).incarnation == incarnation))
    std::this_thread::sleep_for(50us);
  std::atomic<uint64_t> killed_ns{0};
  std::atomic<bool> rung{false};
  std::thread killer([&] {
    std::this_thread::sleep_for(2ms);  // the sleeper is asleep by then
    killed_ns.store(monotonic_ns());
    if (variant == Variant::floor) {
      rung.store(true, std::memory_order_release);
      segment.node_doorbell(1).ring();
    }
    ::kill(child, SIGKILL);
  });
  Round round;
  Waiter waiter(segment.node_doorbell(1), WaitStrategy::block);
  uint64_t woke_ns = 0;
  switch (variant) {
    case Variant::direct: {
      DeathWatch::Binding bound = deaths.bind_to_this_thread();
      waiter.wait([&] { return deaths.pending(); });
      woke_ns = monotonic_ns();
      round.slept = waiter.sleeps() > 0;
      break;
    }
    case Variant::watcher: {
      std::atomic<bool> dead{false};
      std::thread watcher([&] {
        deaths.wait_for_death(Clock::time_point::max());
        dead.store(true, std::memory_order_release);
        segment.node_doorbell(1).ring();
      });
      waiter.wait([&] { return dead.load(std::memory_order_acquire); });
      woke_ns = monotonic_ns();
      round.slept = waiter.sleeps() > 0;
      watcher.join();
      break;
    }
    case Variant::pidfd: {
      const int fd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
      if (fd < 0) throw std::runtime_error(std::string("pidfd_open: ") + std::strerror(errno));
      pollfd readable{fd, POLLIN, 0};
      while (::poll(&readable, 1, -1) != 1) {
      }
      woke_ns = monotonic_ns();
      round.slept = true;  // poll without a timeout sleeps unless already readable
      ::close(fd);
      break;
    }
    case Variant::floor: {
      waiter.wait([&] { return rung.load(std::memory_order_acquire); });
      woke_ns = monotonic_ns();
      round.slept = waiter.sleeps() > 0;
      break;
    }
  }
  killer.join();
  reap(child);
  (void)deaths.take();  // every variant but direct leaves the death to be taken
  round.latency_us = static_cast<double>(woke_ns - killed_ns.load()) / 1e3;
  return round;
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const auto at = static_cast<std::size_t>(p / 100.0 * static_cast<double>(values.size() - 1) + 0.5);
  return values[at];
}

template <class Body>
double ns_per_call(Body body, uint64_t calls) {
  const auto start = Clock::now();
  for (uint64_t i = 0; i < calls; ++i) body();
  return static_cast<double>(
             std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count()) /
         static_cast<double>(calls);
}

int run(int kills) {
  bench::BenchSegment bench(3, 4 << 10);
  Segment& segment = bench.get();
  DeathWatch deaths = segment.watch_deaths(1);
  std::vector<double> latencies[kVariants];
  int unslept[kVariants] = {};
  uint32_t incarnation = 0;
  for (int k = 0; k < kills; ++k)
    for (int v = 0; v < kVariants; ++v) {
      const Round round = kill_once(segment, deaths, ++incarnation, static_cast<Variant>(v));
      if (round.slept)
        latencies[v].push_back(round.latency_us);
      else
        ++unslept[v];
    }
  std::printf("SIGKILL -> sleeping node 1 runs again, us (%d kills per variant, interleaved)\n", kills);
  std::printf("  %-8s %8s %8s %8s %8s %8s  %s\n", "variant", "p50", "p90", "p99", "max", "n", "not asleep");
  for (int v = 0; v < kVariants; ++v) {
    if (latencies[v].empty()) continue;
    std::printf("  %-8s %8.1f %8.1f %8.1f %8.1f %8zu  %d\n", kVariantNames[v], percentile(latencies[v], 50),
                percentile(latencies[v], 90), percentile(latencies[v], 99), percentile(latencies[v], 100),
                latencies[v].size(), unslept[v]);
  }
  std::printf("  deaths_seen of node 1: %llu\n",
              static_cast<unsigned long long>(segment.node_counters(1).snapshot().deaths_seen));

  constexpr uint64_t kCalls = 100'000'000;
  ProgressCounter& progress = segment.progress(1);
  const double bump = ns_per_call([&] { progress.bump(); }, kCalls);
  ProgressWatch watch = segment.watch_progress(1ms);
  const double observe = ns_per_call([&] { watch.observe(monotonic_ns()); }, kCalls / 10);
  LivenessClaim one = segment.claim_liveness(2), two = segment.claim_liveness(3);
  DeathWatch fresh = segment.watch_deaths(1);
  bool any = false;
  const double pending = ns_per_call([&] { any |= fresh.pending(); }, kCalls);
  std::printf(
      "ns per call: ProgressCounter::bump %.2f   ProgressWatch::observe (3 nodes, with clock) %.1f   "
      "DeathWatch::pending (2 peers) %.2f%s\n",
      bump, observe, pending, any ? " (a death was pending!)" : "");
  return 0;
}

}  // namespace
}  // namespace shmraft::ipc

int main(int argc, char** argv) {
  int kills = 300;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--kills" && i + 1 < argc) {
      kills = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--kills N]   (N >= 1, default 300)\n", argv[0]);
      return 2;
    }
  }
  if (kills < 1) {
    std::fprintf(stderr, "--kills must be at least 1\n");
    return 2;
  }
  try {
    return shmraft::ipc::run(kills);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_liveness: %s\n", e.what());
    return 1;
  }
}
