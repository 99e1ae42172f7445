// Cost of the benchmark kit's own hot path: a client records every commit latency, so record() must
// stay at a few nanoseconds next to sub-microsecond commits.
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <vector>

#include "bench/kit/floor.h"
#include "bench/kit/histogram.h"
#include "bench/kit/pacing.h"
#include "ipc/clock.h"
#include "ipc/tcp/transport.h"

namespace {

using shmraft::bench::Histogram;

// Latency-like values (log-normal around 2 µs) pre-drawn so the generator is not measured.
std::vector<uint64_t> latencies(std::size_t n) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(std::log(2000.0), 0.8);
  std::vector<uint64_t> v(n);
  for (auto& x : v) x = static_cast<uint64_t>(dist(rng)) + 1;
  return v;
}

void BM_HistogramRecord(benchmark::State& state) {
  Histogram h(static_cast<int>(state.range(0)));
  const auto values = latencies(1 << 16);
  std::size_t i = 0;
  for (auto _ : state) {
    h.record(values[i]);
    i = (i + 1) & (values.size() - 1);
  }
  benchmark::DoNotOptimize(h.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramRecord)->Arg(2)->Arg(3);

void BM_HistogramPercentiles(benchmark::State& state) {
  Histogram h;
  for (uint64_t v : latencies(1 << 16)) h.record(v);
  for (auto _ : state) {
    for (double p : {50.0, 90.0, 99.0, 99.9}) benchmark::DoNotOptimize(h.value_at_percentile(p));
  }
}
BENCHMARK(BM_HistogramPercentiles);

void BM_HistogramSerializeRoundTrip(benchmark::State& state) {
  Histogram h;
  for (uint64_t v : latencies(1 << 16)) h.record(v);
  for (auto _ : state) benchmark::DoNotOptimize(Histogram::deserialize(h.serialize()));
  state.counters["bytes"] = static_cast<double>(h.serialize().size());
}
BENCHMARK(BM_HistogramSerializeRoundTrip);

void BM_OpenLoopIntendedSendTime(benchmark::State& state) {
  shmraft::bench::OpenLoopSchedule schedule(1e6, 0);
  uint64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(schedule.intended_send_ns(i++));
}
BENCHMARK(BM_OpenLoopIntendedSendTime);

// The physical floor as `shmraft bench` measures it, per shape, process count and wait strategy. One
// iteration is one whole measurement (forks, rounds, reaping); the figures are the round-trip percentiles.
void BM_Floor(benchmark::State& state) {
  shmraft::bench::FloorSpec spec;
  spec.shape = static_cast<shmraft::bench::FloorShape>(state.range(0));
  spec.processes = static_cast<int>(state.range(1));
  spec.wait = static_cast<shmraft::ipc::WaitStrategy>(state.range(2));
  spec.rounds = 20'000;
  spec.max_duration = std::chrono::seconds(1);
  shmraft::bench::Histogram all;
  for (auto _ : state) all.merge(shmraft::bench::measure_floor(spec).round_trip);
  state.SetLabel(std::string(to_string(spec.shape)) + " " + std::string(shmraft::ipc::to_string(spec.wait)));
  state.counters["p50_ns"] = static_cast<double>(all.value_at_percentile(50));
  state.counters["p99_ns"] = static_cast<double>(all.value_at_percentile(99));
  state.counters["rounds"] = static_cast<double>(all.count());
}
BENCHMARK(BM_Floor)
    ->ArgsProduct({{static_cast<int>(shmraft::bench::FloorShape::ring),
                    static_cast<int>(shmraft::bench::FloorShape::commit)},
                   {2, 4},
                   {static_cast<int>(shmraft::ipc::WaitStrategy::spin),
                    static_cast<int>(shmraft::ipc::WaitStrategy::spin_block),
                    static_cast<int>(shmraft::ipc::WaitStrategy::yield),
                    static_cast<int>(shmraft::ipc::WaitStrategy::adaptive),
                    static_cast<int>(shmraft::ipc::WaitStrategy::block)}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// What one hop over the comparison transport costs: a 64 B frame to a forked echo process and back,
// through ipc::tcp::Transport (send + flush + poll on both sides, loopback TCP, TCP_NODELAY).
void BM_TcpTransportRoundTrip(benchmark::State& state) {
  namespace tcp = shmraft::ipc::tcp;
  using namespace std::chrono_literals;
  int port_pipe[2];
  if (pipe(port_pipe) != 0) {
    state.SkipWithError("pipe failed");
    return;
  }
  tcp::Transport self({.self = 0});
  const pid_t echo = fork();
  if (echo == 0) {
    tcp::Transport peer({.self = 1});
    const uint16_t port = peer.port();
    if (write(port_pipe[1], &port, sizeof port) != sizeof port) _exit(1);
    peer.connect(0, self.port());
    for (;;) {  // until killed
      peer.poll(100ms, [&](tcp::EndpointId from, const shmraft::ipc::Frame& f) {
        peer.send(from, f.type, 0, f.payload);
      });
      peer.flush();
    }
  }
  uint16_t port = 0;
  if (read(port_pipe[0], &port, sizeof port) != sizeof port)
    state.SkipWithError("echo process did not start");
  self.connect(1, port);
  const std::vector<std::byte> payload(64);
  Histogram round_trips;
  bool back = false;
  const auto on_frame = [&](tcp::EndpointId, const shmraft::ipc::Frame&) { back = true; };
  for (auto _ : state) {
    const uint64_t start = shmraft::ipc::monotonic_ns();
    self.send(1, 1, 0, payload);
    self.flush();
    back = false;
    while (!back) {
      self.poll(10ms, on_frame);
      self.flush();  // also completes the connection handshake on the first round
    }
    round_trips.record(shmraft::ipc::monotonic_ns() - start);
  }
  kill(echo, SIGKILL);
  waitpid(echo, nullptr, 0);
  close(port_pipe[0]);
  close(port_pipe[1]);
  state.counters["p50_ns"] = static_cast<double>(round_trips.value_at_percentile(50));
  state.counters["p99_ns"] = static_cast<double>(round_trips.value_at_percentile(99));
}
BENCHMARK(BM_TcpTransportRoundTrip)->Iterations(20'000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
