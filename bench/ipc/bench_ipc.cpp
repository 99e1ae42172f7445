// bench_ipc: the shared-memory transport against its physical floors, two real processes each (fork).
//
//   OneWay/<bytes>            producer -> consumer throughput over a peer ring, consumer waits adaptively
//   RingRoundTrip/<strategy>  64 B ping-pong over two peer rings, both sides waiting with <strategy>
//   Floor_CacheLine           bare shared-memory cache-line ping-pong (spinning): the hardware floor
//   Floor_Futex               futex wake ping-pong (both sides always sleep)
//   Floor_FutexIdle/<gap_us>  the same, one round every <gap_us> with both sides idle in between (an open
//                             loop's situation): round trip and CPU per round of both processes
//   Floor_UnixSocket          64 B ping-pong over a UNIX stream socketpair
//   Floor_TcpLoopback         64 B ping-pong over TCP on 127.0.0.1 (TCP_NODELAY)
//   Crc32c/<impl>/<bytes>     CRC32C with the SSE4.2 instruction vs the portable table
//
// Round trips are timed one by one with the TSC (calibrated against steady_clock in the same run) and
// reported as p50/p90/p99 in ns; the Time column is the mean. After the benchmarks, the ratios of issue 2
// are printed (ring RTT / cache-line RTT, 64 B one-way M frames/s, TCP RTT / ring RTT).
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_support.h"
#include "ipc/crc32c.h"
#include "ipc/segment.h"
#include "ipc/wait.h"

namespace shmraft::ipc {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint16_t kData = 1;
constexpr uint16_t kStop = 2;

// p50 round trip (ns) and one-way rate per benchmark name, for the ratio table at the end.
std::map<std::string, double>& p50_ns() {
  static std::map<std::string, double> values;
  return values;
}
double& idle_cpu_us_per_round() {
  static double value = 0;
  return value;
}
std::map<std::string, double>& frames_per_s() {
  static std::map<std::string, double> values;
  return values;
}

// --- helpers ---

using bench::BenchSegment;
using bench::fork_child;
using bench::reap;

// Anonymous shared memory inherited by the forked child.
template <class T>
T* shared_object() {
  void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
  return new (p) T{};
}
template <class T>
void free_shared(T* p) {
  p->~T();
  ::munmap(p, sizeof(T));
}

// TSC ticks -> ns, measured over the benchmark run itself.
struct TscClock {
  uint64_t tsc0 = __rdtsc();
  Clock::time_point t0 = Clock::now();
  double ns_per_tick() const {
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    return ns / static_cast<double>(__rdtsc() - tsc0);
  }
};

// Collects one sample per round trip (in TSC ticks) and reports percentiles as counters.
class RoundTrips {
 public:
  explicit RoundTrips(benchmark::State& state) {
    samples_.reserve(std::min<uint64_t>(state.max_iterations, 50'000'000));
  }
  void add(uint64_t ticks) {
    if (samples_.size() < samples_.capacity()) samples_.push_back(ticks);
  }
  // `key` names the result in the ratio table.
  void report(benchmark::State& state, const TscClock& clock, const std::string& key) {
    if (samples_.empty()) return;
    const double scale = clock.ns_per_tick();
    std::sort(samples_.begin(), samples_.end());
    auto at = [&](double q) {
      return static_cast<double>(samples_[static_cast<std::size_t>(q * (samples_.size() - 1))]) * scale;
    };
    state.counters["p50_ns"] = at(0.50);
    state.counters["p90_ns"] = at(0.90);
    state.counters["p99_ns"] = at(0.99);
    p50_ns()[key] = at(0.50);
  }

 private:
  std::vector<uint64_t> samples_;
};

// --- the ring ---

void OneWay(benchmark::State& state) {
  const auto payload = static_cast<uint32_t>(state.range(0));
  BenchSegment segment;
  auto* consumed = shared_object<std::atomic<uint64_t>>();
  const pid_t child = fork_child([&] {
    Segment s = Segment::attach(segment.name());
    RingConsumer in = s.peer_consumer(1, 2);
    Waiter waiter(s.node_doorbell(2));  // adaptive
    uint64_t frames = 0, checksum = 0;
    bool stop = false;
    while (!stop) {
      waiter.wait([&] { return in.has_frames(); });
      frames += in.drain([&](const Frame& f) {
        stop |= f.type == kStop;
        if (!f.payload.empty()) checksum += static_cast<uint8_t>(f.payload[0]);  // touch the data
      });
    }
    benchmark::DoNotOptimize(checksum);
    consumed->store(frames - 1, std::memory_order_release);
  });
  RingProducer out = segment.get().peer_producer(1, 2);
  std::vector<std::byte> data(payload, std::byte{0x5a});
  constexpr int kBatch = 16;  // frames per publish
  uint64_t sent = 0;
  const auto start = Clock::now();
  for (auto _ : state) {
    std::byte* at;
    // Full: the consumer is behind (or descheduled); spin briefly, then give it the CPU.
    for (int spins = 0; (at = out.try_reserve(payload)) == nullptr; ++spins) {
      out.publish();
      if (spins < 256)
        cpu_relax();
      else
        sched_yield();
    }
    std::memcpy(at, data.data(), payload);
    out.commit(kData, payload);
    if (++sent % kBatch == 0) out.publish();
  }
  while (!out.try_push(kStop, {})) cpu_relax();
  reap(child);  // the consumer exits after the stop frame: everything was delivered
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const uint64_t received = consumed->load(std::memory_order_acquire);
  if (received != sent) state.SkipWithError("consumer count differs from producer count");
  free_shared(consumed);
  state.SetItemsProcessed(static_cast<int64_t>(sent));
  state.SetBytesProcessed(static_cast<int64_t>(sent * payload));
  state.counters["Mframes_per_s"] = static_cast<double>(sent) / seconds / 1e6;
  frames_per_s()["OneWay/" + std::to_string(payload)] = static_cast<double>(sent) / seconds;
}
BENCHMARK(OneWay)->Arg(64)->Arg(1024)->Arg(4096)->UseRealTime()->MinTime(0.5);

void RingRoundTrip(benchmark::State& state) {
  const auto strategy = static_cast<WaitStrategy>(state.range(0));
  state.SetLabel(std::string(to_string(strategy)));
  BenchSegment segment;
  const pid_t child = fork_child([&] {
    Segment s = Segment::attach(segment.name());
    RingConsumer in = s.peer_consumer(1, 2);
    RingProducer out = s.peer_producer(2, 1);
    Waiter waiter(s.node_doorbell(2), strategy);
    for (;;) {
      waiter.wait([&] { return in.has_frames(); });
      const auto frame = in.peek();
      if (!frame) continue;
      if (frame->type == kStop) return;
      std::byte* at = out.try_reserve(static_cast<uint32_t>(frame->payload.size()));
      std::memcpy(at, frame->payload.data(), frame->payload.size());
      out.commit(kData, static_cast<uint32_t>(frame->payload.size()));
      in.release();
      out.publish();
    }
  });
  Segment& s = segment.get();
  RingProducer out = s.peer_producer(1, 2);
  RingConsumer in = s.peer_consumer(2, 1);
  Waiter waiter(s.node_doorbell(1), strategy);
  RoundTrips trips(state);
  TscClock clock;
  uint64_t seq = 0;
  for (auto _ : state) {
    const uint64_t t0 = __rdtsc();
    std::byte* at = out.try_reserve(64);
    std::memcpy(at, &seq, sizeof seq);
    out.commit(kData, 64);
    out.publish();
    waiter.wait([&] { return in.has_frames(); });
    const auto frame = in.peek();
    benchmark::DoNotOptimize(frame->payload.data());
    in.release();
    trips.add(__rdtsc() - t0);
    ++seq;
  }
  out.try_push(kStop, {});
  reap(child);
  trips.report(state, clock, "Ring/" + std::string(to_string(strategy)));
  state.counters["sleeps"] = static_cast<double>(waiter.sleeps());
}
BENCHMARK(RingRoundTrip)
    ->ArgName("strategy")
    ->Arg(static_cast<int>(WaitStrategy::spin))
    ->Arg(static_cast<int>(WaitStrategy::yield))
    ->Arg(static_cast<int>(WaitStrategy::block))
    ->Arg(static_cast<int>(WaitStrategy::adaptive))
    ->UseRealTime()
    ->MinTime(0.5);

// --- the floors ---

void Floor_CacheLine(benchmark::State& state) {
  struct alignas(64) Line {
    std::atomic<uint64_t> value{0};
  };
  auto* line = shared_object<Line>();
  const pid_t child = fork_child([&] {
    // Answer every odd value with the next even one; UINT64_MAX stops.
    for (uint64_t expect = 1;; expect += 2) {
      uint64_t v;
      while ((v = line->value.load(std::memory_order_acquire)) != expect) {
        if (v == UINT64_MAX) return;
        cpu_relax();
      }
      line->value.store(expect + 1, std::memory_order_release);
    }
  });
  RoundTrips trips(state);
  TscClock clock;
  uint64_t next = 1;
  for (auto _ : state) {
    const uint64_t t0 = __rdtsc();
    line->value.store(next, std::memory_order_release);
    while (line->value.load(std::memory_order_acquire) != next + 1) cpu_relax();
    trips.add(__rdtsc() - t0);
    next += 2;
  }
  line->value.store(UINT64_MAX, std::memory_order_release);
  reap(child);
  free_shared(line);
  trips.report(state, clock, "Floor_CacheLine");
}
BENCHMARK(Floor_CacheLine)->UseRealTime()->MinTime(0.5);

// CPU time of the calling process, exact (the scheduler's runtime, not sampled at ticks as rusage may be).
uint64_t process_cpu_ns() {
  timespec t{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(t.tv_nsec);
}

long futex(std::atomic<uint32_t>* word, int op, uint32_t value) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, nullptr, nullptr, 0);
}

// Two processes, each asleep on its own word until the other bumps it: a full wake-up per hop. The child
// echoes every bump until told to stop, then records its CPU time while it echoed.
struct FutexPingPong {
  alignas(64) std::atomic<uint32_t> to_child{0};
  alignas(64) std::atomic<uint32_t> to_parent{0};
  alignas(64) std::atomic<bool> stop{false};
  std::atomic<uint64_t> child_cpu_ns{0};
  uint32_t seen = 0;  // the parent's: replies received

  void echo_until_stopped() {
    const uint64_t cpu_start = process_cpu_ns();
    for (uint32_t echoed = 0;;) {
      while (to_child.load(std::memory_order_acquire) == echoed) futex(&to_child, FUTEX_WAIT, echoed);
      if (stop.load()) break;
      echoed = to_child.load(std::memory_order_acquire);
      to_parent.fetch_add(1, std::memory_order_release);
      futex(&to_parent, FUTEX_WAKE, 1);
    }
    child_cpu_ns.store(process_cpu_ns() - cpu_start);
  }
  // One round from the parent; returns its TSC ticks.
  uint64_t round_trip() {
    const uint64_t t0 = __rdtsc();
    to_child.fetch_add(1, std::memory_order_release);
    futex(&to_child, FUTEX_WAKE, 1);
    while (to_parent.load(std::memory_order_acquire) == seen) futex(&to_parent, FUTEX_WAIT, seen);
    seen = to_parent.load(std::memory_order_acquire);
    return __rdtsc() - t0;
  }
  void stop_child() {
    stop.store(true);
    to_child.fetch_add(1, std::memory_order_release);
    futex(&to_child, FUTEX_WAKE, 1);
  }
};

void Floor_Futex(benchmark::State& state) {
  auto* words = shared_object<FutexPingPong>();
  const pid_t child = fork_child([&] { words->echo_until_stopped(); });
  RoundTrips trips(state);
  TscClock clock;
  for (auto _ : state) trips.add(words->round_trip());
  words->stop_child();
  reap(child);
  free_shared(words);
  trips.report(state, clock, "Floor_Futex");
}
BENCHMARK(Floor_Futex)->UseRealTime()->MinTime(0.5);

// An open loop at a moderate rate finds every process asleep and every CPU idle when a request comes:
// each hop then pays a wake-up of an idle CPU (on a VM a halted vCPU: an exit to the hypervisor) and the
// sleep that follows. This is the floor of that hop, in time and in CPU, whatever the wait strategy: only
// spinning avoids it, at a core per spinning process. A 3-node commit wakes the leader twice and each
// follower once at least, so it costs about two of these rounds of node CPU (issue 17's open loop).
void Floor_FutexIdle(benchmark::State& state) {
  const auto gap_ns = static_cast<uint64_t>(state.range(0)) * 1000;
  auto* words = shared_object<FutexPingPong>();
  const pid_t child = fork_child([&] { words->echo_until_stopped(); });
  RoundTrips trips(state);
  TscClock clock;
  const uint64_t cpu_start = process_cpu_ns();
  uint64_t rounds = 0;
  timespec next{};
  ::clock_gettime(CLOCK_MONOTONIC, &next);
  for (auto _ : state) {
    const uint64_t due_ns = static_cast<uint64_t>(next.tv_nsec) + gap_ns;
    next.tv_sec += static_cast<time_t>(due_ns / 1'000'000'000);
    next.tv_nsec = static_cast<long>(due_ns % 1'000'000'000);
    ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
    const uint64_t ticks = words->round_trip();
    trips.add(ticks);
    state.SetIterationTime(static_cast<double>(ticks) * clock.ns_per_tick() * 1e-9);
    ++rounds;
  }
  const uint64_t parent_cpu_ns = process_cpu_ns() - cpu_start;
  words->stop_child();
  reap(child);
  // The parent's CPU includes its timed sleeps' wake-ups: that is the idle hop's cost too.
  const double cpu = static_cast<double>(parent_cpu_ns + words->child_cpu_ns.load()) / 1000;
  free_shared(words);
  if (rounds > 0) {
    state.counters["cpu_us_per_round"] = cpu / static_cast<double>(rounds);
    idle_cpu_us_per_round() = cpu / static_cast<double>(rounds);
  }
  trips.report(state, clock, "Floor_FutexIdle");
}
BENCHMARK(Floor_FutexIdle)->ArgName("gap_us")->Arg(1000)->UseManualTime()->Iterations(2000);

bool read_exactly(int fd, void* data, std::size_t size) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// 64 B ping-pong over a connected stream socket pair (parent end, child end).
void socket_ping_pong(benchmark::State& state, int parent_fd, int child_fd, const std::string& key) {
  const pid_t child = fork_child([&] {
    ::close(parent_fd);
    char buffer[64];
    while (read_exactly(child_fd, buffer, sizeof buffer))
      if (::write(child_fd, buffer, sizeof buffer) != sizeof buffer) break;
  });
  ::close(child_fd);
  RoundTrips trips(state);
  TscClock clock;
  char buffer[64] = {};
  for (auto _ : state) {
    const uint64_t t0 = __rdtsc();
    if (::write(parent_fd, buffer, sizeof buffer) != sizeof buffer ||
        !read_exactly(parent_fd, buffer, sizeof buffer)) {
      state.SkipWithError("socket ping-pong failed");
      break;
    }
    trips.add(__rdtsc() - t0);
  }
  ::close(parent_fd);  // the child sees EOF and exits
  reap(child);
  trips.report(state, clock, key);
}

void Floor_UnixSocket(benchmark::State& state) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
    state.SkipWithError("socketpair failed");
    return;
  }
  socket_ping_pong(state, fds[0], fds[1], "Floor_UnixSocket");
}
BENCHMARK(Floor_UnixSocket)->UseRealTime()->MinTime(0.5);

void Floor_TcpLoopback(benchmark::State& state) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // 127.0.0.1 only
  address.sin_port = 0;                              // any free port
  socklen_t length = sizeof address;
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    state.SkipWithError("cannot listen on 127.0.0.1");
    return;
  }
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    state.SkipWithError("cannot connect to 127.0.0.1");
    return;
  }
  const int server = ::accept(listener, nullptr, nullptr);
  ::close(listener);
  const int one = 1;
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  socket_ping_pong(state, client, server, "Floor_TcpLoopback");
}
BENCHMARK(Floor_TcpLoopback)->UseRealTime()->MinTime(0.5);

// --- CRC32C ---

void Crc32c(benchmark::State& state) {
  const bool hardware = state.range(0) == 1;
  state.SetLabel(hardware ? "sse4.2" : "portable");
  std::vector<unsigned char> data(static_cast<std::size_t>(state.range(1)), 0x5a);
  for (auto _ : state) {
    uint32_t crc =
        hardware ? crc32c_hardware(data.data(), data.size()) : crc32c_portable(data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(Crc32c)->ArgNames({"hw", "bytes"})->ArgsProduct({{1, 0}, {64, 1024, 4096}});

// --- the ratios of issue 2 ---

void print_ratios() {
  const auto& rtt = p50_ns();
  auto find = [](const std::map<std::string, double>& values, const std::string& key) -> double {
    const auto it = values.find(key);
    return it == values.end() ? 0 : it->second;
  };
  const double bare = find(rtt, "Floor_CacheLine"), tcp = find(rtt, "Floor_TcpLoopback"),
               unix_socket = find(rtt, "Floor_UnixSocket"), futex_rtt = find(rtt, "Floor_Futex");
  const double spin = find(rtt, "Ring/spin"), adaptive = find(rtt, "Ring/adaptive"),
               block = find(rtt, "Ring/block");
  const double one_way = find(frames_per_s(), "OneWay/64");
  std::printf("\nissue 2 ratios (p50 round trips; this run, same machine):\n");
  auto ratio = [](const char* what, double a, double b, const char* target) {
    if (a > 0 && b > 0)
      std::printf("  %-48s %8.2f   (%.0f ns / %.0f ns; target %s)\n", what, a / b, a, b, target);
  };
  ratio("ring RTT (spin) / bare cache-line RTT", spin, bare, "<= 1.5");
  ratio("ring RTT (adaptive) / bare cache-line RTT", adaptive, bare, "<= 1.5");
  if (one_way > 0)
    std::printf("  %-48s %8.2f   (target >= 20)\n", "ring 64 B one-way, M frames/s", one_way / 1e6);
  ratio("TCP loopback RTT / ring RTT (adaptive)", tcp, adaptive, ">= 50");
  ratio("TCP loopback RTT / ring RTT (spin)", tcp, spin, ">= 50");
  ratio("UNIX socket RTT / ring RTT (adaptive)", unix_socket, adaptive, "-");
  ratio("ring RTT (block) / futex RTT", block, futex_rtt, "-");
  if (const double idle = find(rtt, "Floor_FutexIdle"); idle > 0)
    std::printf(
        "  %-48s %8.1f us round trip, %.1f us CPU per round (both sides)\n"
        "  %-48s %8.3f cores (two idle rounds of node CPU per commit, at 1 K commits/s)\n",
        "futex round trip, both idle between rounds:", idle / 1000, idle_cpu_us_per_round(),
        "=> open-loop node CPU floor, 3 nodes:", 2 * idle_cpu_us_per_round() / 1000);
  // Two spinning processes answer each other within a microsecond whenever both are on a CPU; a p50
  // far above that means they mostly were not (other load on the machine), so spin figures mean nothing.
  if (bare > 10'000)
    std::printf(
        "  WARNING: the bare cache-line p50 is %.0f us: the two processes rarely ran at the same time "
        "(busy machine), so the spin-based figures and ratios above are not meaningful.\n",
        bare / 1000);
}

}  // namespace
}  // namespace shmraft::ipc

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  shmraft::ipc::print_ratios();
  return 0;
}
