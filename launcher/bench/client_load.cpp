#include "launcher/bench/client_load.h"

#include <fmt/format.h>
#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "bench/kit/pacing.h"
#include "ipc/clock.h"
#include "launcher/bench/progress_merger.h"
#include "launcher/client/async_client.h"

namespace shmraft::bench {

namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// A client waits at most this long between looks at the clock, so phases and progress lines stay on time
// even when no reply comes.
constexpr nanoseconds kMaxWait = milliseconds(20);
constexpr auto kReadyTimeout = std::chrono::seconds(30);

enum PhaseIndex {
  kClientToLeader,
  kLeaderPersist,
  kReplication,
  kApplyToClient,
  kIntendedToSent,
  kPhaseCount
};
constexpr const char* kPhaseNames[kPhaseCount] = {"client_to_leader", kLeaderPersistPhase, "replication",
                                                  "apply_to_client", "intended_to_sent"};

// Clock readings of two processes taken once per loop iteration can be a little out of order; a phase
// is never negative.
uint64_t span_ns(uint64_t from, uint64_t to) noexcept {
  return to > from ? to - from : 0;
}

struct ClientFigures {
  std::optional<RunOutcome> run;
  std::vector<Histogram> phases;
  uint64_t failed_ops = 0;
};

// What every client thread shares with the coordinating thread.
struct Shared {
  Shared(const std::string& cluster, const BenchConfig& config, StopFlag& stop, nanoseconds spin,
         RunSpec spec, ProgressMerger& progress, LoadObserver* observer)
      : cluster(cluster),
        config(config),
        stop(stop),
        spin(spin),
        spec(spec),
        progress(progress),
        observer(observer) {}

  const std::string& cluster;
  const BenchConfig& config;
  StopFlag& stop;
  nanoseconds spin;
  RunSpec spec;
  ProgressMerger& progress;
  LoadObserver* observer;
  std::atomic<uint32_t> ready{0};
  std::atomic<uint32_t> finished{0};
  std::atomic<uint64_t> start_ns{0};   // 0 until every client is ready
  std::atomic<bool> cancelled{false};  // the run will not start (failure or Ctrl-C)
  std::mutex error_mutex;
  std::exception_ptr error;

  void fail(std::exception_ptr e) {
    {
      std::lock_guard lock(error_mutex);
      if (!error) error = e;
    }
    stop.request();  // the other clients end their loops; the run is reported as an error, not a result
    release_unstarted();
  }
  // Lets clients still waiting for the start return without running (Ctrl-C or a failure before it).
  void release_unstarted() {
    cancelled.store(true);
    start_ns.store(1);
    start_ns.notify_all();
  }
};

client::ClientOptions client_options(const BenchConfig& c, nanoseconds spin) {
  client::ClientOptions o;
  o.spin = spin;
  o.session = false;  // pipelined load: a retried put may apply twice, which a benchmark does not mind
  o.pipeline = c.pipeline;
  o.wait = ipc::parse_wait_strategy_or_throw(c.wait);
  o.transport = c.transport == "tcp" ? client::TransportKind::tcp : client::TransportKind::shm;
  return o;
}

void run_one_client(Shared& s, uint32_t index, ClientFigures& out) {
  // Open loop: the client sleeps until the next operation is due, and the kernel's default 50 µs timer
  // slack would make it send late — latency the cluster did not cause.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  const BenchConfig& config = s.config;
  client::AsyncClient client(s.cluster, client_options(config, s.spin));
  std::vector<std::string> keys;
  keys.reserve(kKeysPerClient);
  for (uint32_t k = 0; k < kKeysPerClient; ++k) keys.push_back(load_key(index, k));
  std::string value(config.payload_bytes, 'x');
  LoadObserver* const observer = s.observer;
  // Tags are indices into `started`: when each outstanding operation started (submit or intended time).
  std::vector<uint64_t> started(config.pipeline, 0);
  std::vector<uint32_t> free_tags(config.pipeline);
  for (uint32_t t = 0; t < config.pipeline; ++t) free_tags[t] = config.pipeline - 1 - t;
  out.phases.assign(kPhaseCount, Histogram(s.spec.significant_digits));
  RunLoop loop(s.spec, s.stop, s.progress.sink_for(index));

  s.ready.fetch_add(1);
  s.start_ns.wait(0);
  if (s.cancelled.load()) return;
  const uint64_t start = s.start_ns.load();
  std::optional<OpenLoopSchedule> schedule;
  if (config.open_loop())
    schedule = OpenLoopSchedule::for_client(config.rate_ops_per_s, start, index, config.clients);
  uint64_t next_op = 0;  // open loop: the schedule's next operation; closed loop: operations sent

  const client::AsyncClient::Callback on_done = [&](const client::Completion& done) {
    const auto tag = static_cast<uint32_t>(done.tag);
    const uint64_t began = started[tag];
    if (observer) observer->completed(index, tag, began, done);
    free_tags.push_back(tag);
    const bool measured = loop.phase() == Phase::measure;
    if (done.status != client::Status::ok) {
      if (measured) ++out.failed_ops;
      return;
    }
    const client::Phases& p = done.phases;
    loop.complete(span_ns(began, p.client_receive_ns));
    if (!measured) return;
    out.phases[kClientToLeader].record(span_ns(p.client_send_ns, p.leader_receive_ns));
    out.phases[kLeaderPersist].record(span_ns(p.leader_receive_ns, p.leader_persist_ns));
    out.phases[kReplication].record(span_ns(p.leader_persist_ns, p.commit_ns));
    out.phases[kApplyToClient].record(span_ns(p.commit_ns, p.client_receive_ns));
    if (schedule) out.phases[kIntendedToSent].record(span_ns(began, p.client_send_ns));
  };
  auto submit = [&](uint64_t began_ns) {
    const uint32_t tag = free_tags.back();
    free_tags.pop_back();
    started[tag] = began_ns;
    if (observer) observer->submitting(index, tag, next_op, value);
    const client::Request put{kv::Op::put, keys[next_op % kKeysPerClient], value, {}};
    ++next_op;
    client.submit(put, tag);
  };

  loop.start(start);
  uint64_t now = ipc::monotonic_ns();
  while (loop.tick(now)) {
    nanoseconds wait = kMaxWait;
    if (schedule) {
      const uint64_t due = schedule->ops_due_by(now);
      while (next_op < due && !free_tags.empty()) submit(schedule->intended_send_ns(next_op));
      if (next_op >= due && !free_tags.empty())
        wait = std::min(wait, nanoseconds(schedule->ns_until(next_op, now)));
    } else {
      while (!free_tags.empty()) submit(ipc::monotonic_ns());
    }
    client.wait(on_done, wait);
    now = ipc::monotonic_ns();
  }
  out.run = loop.finish(now);
}

// Sleeps until `deadline_ns`, the stop flag, a client failure or every client having finished.
void sleep_until(uint64_t deadline_ns, const Shared& s, uint32_t clients) {
  while (ipc::monotonic_ns() < deadline_ns && !s.stop.requested() && !s.cancelled.load() &&
         s.finished.load() < clients) {
    const uint64_t left = deadline_ns - ipc::monotonic_ns();
    std::this_thread::sleep_for(nanoseconds(std::min<uint64_t>(left, 10'000'000)));
  }
}

}  // namespace

std::string load_key(uint32_t client, uint32_t k) {
  return fmt::format("c{}.{}", client, k);
}

LoadResult run_client_load(const std::string& cluster, const BenchConfig& config, StopFlag& stop,
                           const LoadSpec& spec) {
  ProgressMerger merger(config.clients, spec.progress);
  Shared s(cluster, config, stop, spec.spin,
           RunSpec{config.warmup, config.measure, spec.progress_interval, 2}, merger, spec.observer);
  std::vector<ClientFigures> figures(config.clients);
  std::vector<std::thread> threads;
  threads.reserve(config.clients);
  for (uint32_t c = 0; c < config.clients; ++c) {
    threads.emplace_back([&s, &figures, c] {
      try {
        run_one_client(s, c, figures[c]);
      } catch (...) {
        s.fail(std::current_exception());
      }
      s.finished.fetch_add(1);
    });
  }
  // Every client attached and claimed its slot before the clock starts, so the warm-up is all load.
  const uint64_t ready_deadline =
      ipc::monotonic_ns() + static_cast<uint64_t>(nanoseconds(kReadyTimeout).count());
  while (s.ready.load() < config.clients && !s.cancelled.load() && !stop.requested() &&
         ipc::monotonic_ns() < ready_deadline) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  if (s.ready.load() < config.clients) {
    if (stop.requested()) {
      s.release_unstarted();
    } else if (!s.cancelled.load()) {
      s.fail(std::make_exception_ptr(
          std::runtime_error(fmt::format("only {} of {} clients attached within {} s", s.ready.load(),
                                         config.clients, kReadyTimeout.count()))));
    }
  }
  if (!s.cancelled.load()) {
    const uint64_t start = ipc::monotonic_ns();
    s.start_ns.store(start);
    s.start_ns.notify_all();
    const auto warmup = static_cast<uint64_t>(config.warmup.count());
    sleep_until(start + warmup, s, config.clients);
    if (!stop.requested() && !s.cancelled.load() && s.finished.load() < config.clients) {
      if (spec.window_started) spec.window_started();
      sleep_until(start + warmup + static_cast<uint64_t>(config.measure.count()), s, config.clients);
      if (spec.window_ended) spec.window_ended();
    }
  }
  for (std::thread& t : threads) t.join();
  if (s.error) std::rethrow_exception(s.error);

  LoadResult result;
  result.run.interrupted = stop.requested();
  for (uint32_t p = 0; p < (config.open_loop() ? kPhaseCount : kIntendedToSent); ++p)
    result.phases.push_back({kPhaseNames[p], Histogram(2)});
  for (const ClientFigures& f : figures) {
    if (!f.run) continue;
    result.run.ops += f.run->ops;
    result.run.duration_s = std::max(result.run.duration_s, f.run->duration_s);
    result.run.interrupted = result.run.interrupted || f.run->interrupted;
    result.run.latency.merge(f.run->latency);
    for (std::size_t p = 0; p < result.phases.size(); ++p) result.phases[p].histogram.merge(f.phases[p]);
    result.failed_ops += f.failed_ops;
  }
  return result;
}

}  // namespace shmraft::bench
