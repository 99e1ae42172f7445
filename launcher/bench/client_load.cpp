#include "launcher/bench/client_load.h"

#include <fmt/format.h>
#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include "bench/kit/pacing.h"
#include "ipc/clock.h"
#include "launcher/bench/bench_cluster.h"
#include "launcher/bench/progress_merger.h"
#include "launcher/client/client_group.h"
#include "node/process/realtime.h"

namespace shmraft::bench {

namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// A client waits at most this long between looks at the clock, so phases and progress lines stay on time
// even when no reply comes.
constexpr nanoseconds kMaxWait = milliseconds(20);
// Open loop: a thread woken by its timer on an idle CPU runs tens of microseconds late (44–69 µs p50 on
// the 2026-12-06 VM), lateness the schedule would charge to the cluster. So the thread sleeps until this
// long before the next send is due and polls from there — at most a tenth of its time between sends.
constexpr nanoseconds kSendLead = std::chrono::microseconds(100);
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

enum OperationKind { kWrite, kRead, kOperationKinds };
constexpr const char* kOperationNames[kOperationKinds] = {"writes", "reads"};

// What one client thread measured over all of its clients.
struct ThreadFigures {
  std::optional<RunOutcome> run;
  std::vector<Histogram> phases;
  std::vector<OperationOutcome> operations;  // by OperationKind
  uint64_t failed_ops = 0;
  uint64_t resent_ops = 0;
  CpuTimes cpu;  // this thread's, over its measured window
};

// What every client thread shares with the coordinating thread.
struct Shared {
  Shared(const std::string& cluster, const BenchConfig& config, StopFlag& stop, nanoseconds spin,
         RunSpec spec, ProgressMerger& progress, LoadObserver* observer, const ZipfianGenerator* zipfian)
      : cluster(cluster),
        config(config),
        stop(stop),
        spin(spin),
        spec(spec),
        progress(progress),
        observer(observer),
        zipfian(zipfian) {}

  const std::string& cluster;
  const BenchConfig& config;
  StopFlag& stop;
  nanoseconds spin;
  RunSpec spec;
  ProgressMerger& progress;
  LoadObserver* observer;
  const ZipfianGenerator* zipfian;     // nullptr unless the keys are zipfian
  std::atomic<uint32_t> ready{0};      // clients attached, over all threads
  std::atomic<uint32_t> finished{0};   // threads
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
  // A session makes a retry exactly-once, so a client may leave a stopped leader for the new one at once
  // (client.h); it needs one operation in flight. Pipelined, a retried put may apply twice.
  o.session = c.pipeline == 1;
  o.pipeline = c.pipeline;
  o.wait = ipc::parse_wait_strategy_or_throw(c.wait);
  o.transport = client_transport(c);
  return o;
}

// One logical client's side of the load: its outstanding window and, open loop, its schedule.
struct LogicalClient {
  uint32_t index = 0;  // over the whole load, 0..clients-1
  // Tags are indices into `started`: when each outstanding operation started (submit or intended time).
  std::vector<uint64_t> started;
  std::vector<uint8_t> reads;  // by tag: the operation is a get
  std::vector<uint32_t> free_tags;
  std::optional<OpenLoopSchedule> schedule;
  uint64_t next_op = 0;  // open loop: the schedule's next operation; closed loop: operations sent

  LogicalClient(uint32_t index, uint32_t pipeline) : index(index), started(pipeline, 0), reads(pipeline, 0) {
    free_tags.resize(pipeline);
    for (uint32_t t = 0; t < pipeline; ++t) free_tags[t] = pipeline - 1 - t;
  }
};

// The thread's clients are first .. first+count-1.
void run_client_thread(Shared& s, uint32_t thread, uint32_t first, uint32_t count, ThreadFigures& out) {
  // Open loop: the thread sleeps until the next operation is due, and the kernel's default 50 µs timer
  // slack would make it send late — latency the cluster did not cause.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  const BenchConfig& config = s.config;
  // Refused before the run when not permitted (bench_options.cpp): this cannot fail then.
  if (config.realtime) node::enter_realtime(node::kClientPriority);
  client::ClientGroup group(s.cluster, count, client_options(config, s.spin));
  std::vector<LogicalClient> clients;
  clients.reserve(count);
  for (uint32_t i = 0; i < count; ++i) clients.emplace_back(first + i, config.pipeline);
  OperationMix mix(config, s.zipfian, std::random_device{}() ^ (uint64_t{thread} << 32));
  std::string value(config.payload_bytes, 'x');
  LoadObserver* const observer = s.observer;
  out.phases.assign(kPhaseCount, Histogram(s.spec.significant_digits));
  for (uint32_t k = 0; k < kOperationKinds; ++k)
    out.operations.push_back({kOperationNames[k], 0, Histogram(s.spec.significant_digits)});
  RunLoop loop(s.spec, s.stop, s.progress.sink_for(thread));

  s.ready.fetch_add(count);
  s.start_ns.wait(0);
  if (s.cancelled.load()) return;
  const uint64_t start = s.start_ns.load();
  if (config.open_loop())
    for (LogicalClient& c : clients)
      c.schedule = OpenLoopSchedule::for_client(config.rate_ops_per_s, start, c.index, config.clients);

  const client::ClientGroup::Callback on_done = [&](uint32_t member, const client::Completion& done) {
    LogicalClient& c = clients[member];
    const auto tag = static_cast<uint32_t>(done.tag);
    const uint64_t began = c.started[tag];
    if (observer) observer->completed(c.index, tag, began, done);
    c.free_tags.push_back(tag);
    const bool measured = loop.phase() == Phase::measure;
    if (measured && done.attempts > 1) ++out.resent_ops;
    if (done.status != client::Status::ok) {
      if (measured) ++out.failed_ops;
      return;
    }
    const client::Phases& p = done.phases;
    const uint64_t latency = span_ns(began, p.client_receive_ns);
    loop.complete(latency);
    if (!measured) return;
    OperationOutcome& kind = out.operations[c.reads[tag] ? kRead : kWrite];
    ++kind.ops;
    kind.latency.record(latency);
    out.phases[kClientToLeader].record(span_ns(p.client_send_ns, p.leader_receive_ns));
    out.phases[kLeaderPersist].record(span_ns(p.leader_receive_ns, p.leader_persist_ns));
    out.phases[kReplication].record(span_ns(p.leader_persist_ns, p.commit_ns));
    out.phases[kApplyToClient].record(span_ns(p.commit_ns, p.client_receive_ns));
    if (c.schedule) out.phases[kIntendedToSent].record(span_ns(began, p.client_send_ns));
  };
  auto submit = [&](uint32_t member, uint64_t began_ns) {
    LogicalClient& c = clients[member];
    const uint32_t tag = c.free_tags.back();
    c.free_tags.pop_back();
    c.started[tag] = began_ns;
    if (observer) observer->submitting(c.index, tag, c.next_op, value);
    const Operation op = mix.next(c.index, c.next_op);
    c.reads[tag] = op.read;
    const client::Request request = op.read ? client::Request{kv::Op::get, op.key, {}, {}}
                                            : client::Request{kv::Op::put, op.key, value, {}};
    ++c.next_op;
    group.client(member).submit(request, tag);
  };

  // The thread's clients send every thread_period_ns between them (open loop).
  const double thread_period_ns =
      config.open_loop() ? 1e9 * config.clients / (config.rate_ops_per_s * count) : 0;
  const auto send_lead = std::min(kSendLead, nanoseconds(static_cast<int64_t>(thread_period_ns / 10)));
  loop.start(start);
  uint64_t now = ipc::monotonic_ns();
  std::optional<CpuTimes> cpu_at_measure;
  while (loop.tick(now)) {
    if (!cpu_at_measure && loop.phase() == Phase::measure) cpu_at_measure = read_thread_cpu_times();
    nanoseconds wait = kMaxWait;
    for (uint32_t member = 0; member < count; ++member) {
      LogicalClient& c = clients[member];
      if (c.schedule) {
        const uint64_t due = c.schedule->ops_due_by(now);
        while (c.next_op < due && !c.free_tags.empty())
          submit(member, c.schedule->intended_send_ns(c.next_op));
        if (c.next_op >= due && !c.free_tags.empty())
          wait = std::min(wait, nanoseconds(c.schedule->ns_until(c.next_op, now)));
      } else {
        while (!c.free_tags.empty()) submit(member, ipc::monotonic_ns());
      }
    }
    if (config.open_loop()) wait = wait > send_lead ? wait - send_lead : nanoseconds(0);
    group.wait(on_done, wait);
    now = ipc::monotonic_ns();
  }
  out.run = loop.finish(now);
  if (cpu_at_measure) out.cpu = read_thread_cpu_times() - *cpu_at_measure;
}

// Sleeps until `deadline_ns`, the stop flag, a client failure or every client thread having finished.
void sleep_until(uint64_t deadline_ns, const Shared& s, uint32_t threads) {
  while (ipc::monotonic_ns() < deadline_ns && !s.stop.requested() && !s.cancelled.load() &&
         s.finished.load() < threads) {
    const uint64_t left = deadline_ns - ipc::monotonic_ns();
    std::this_thread::sleep_for(nanoseconds(std::min<uint64_t>(left, 10'000'000)));
  }
}

}  // namespace

LoadResult run_client_load(const std::string& cluster, const BenchConfig& config, StopFlag& stop,
                           const LoadSpec& spec) {
  const uint32_t threads = config.client_threads;
  if (threads == 0 || threads > config.clients)
    throw std::invalid_argument(fmt::format("{} client threads for {} clients", threads, config.clients));
  std::optional<ZipfianGenerator> zipfian;
  if (config.keys > 0 && config.key_dist == "zipfian") zipfian.emplace(config.keys);
  ProgressMerger merger(threads, spec.progress);
  Shared s(cluster, config, stop, spec.spin,
           RunSpec{config.warmup, config.measure, spec.progress_interval, 2}, merger, spec.observer,
           zipfian ? &*zipfian : nullptr);
  std::vector<ThreadFigures> figures(threads);
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (uint32_t t = 0; t < threads; ++t) {
    // Clients split as evenly as they go: thread t drives [first, last).
    const auto first = static_cast<uint32_t>(uint64_t{config.clients} * t / threads);
    const auto last = static_cast<uint32_t>(uint64_t{config.clients} * (t + 1) / threads);
    workers.emplace_back([&s, &figures, t, first, last] {
      try {
        run_client_thread(s, t, first, last - first, figures[t]);
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
    sleep_until(start + warmup, s, threads);
    if (!stop.requested() && !s.cancelled.load() && s.finished.load() < threads) {
      if (spec.window_started) spec.window_started();
      sleep_until(start + warmup + static_cast<uint64_t>(config.measure.count()), s, threads);
      if (spec.window_ended) spec.window_ended();
    }
  }
  for (std::thread& t : workers) t.join();
  if (s.error) std::rethrow_exception(s.error);

  LoadResult result;
  result.run.interrupted = stop.requested();
  for (uint32_t p = 0; p < (config.open_loop() ? kPhaseCount : kIntendedToSent); ++p)
    result.phases.push_back({kPhaseNames[p], Histogram(2)});
  if (config.reads > 0)
    for (uint32_t k = 0; k < kOperationKinds; ++k)
      result.operations.push_back({kOperationNames[k], 0, Histogram(2)});
  for (const ThreadFigures& f : figures) {
    if (!f.run) continue;
    for (std::size_t k = 0; k < result.operations.size(); ++k) {
      result.operations[k].ops += f.operations[k].ops;
      result.operations[k].latency.merge(f.operations[k].latency);
    }
    result.run.ops += f.run->ops;
    result.run.duration_s = std::max(result.run.duration_s, f.run->duration_s);
    result.run.interrupted = result.run.interrupted || f.run->interrupted;
    result.run.latency.merge(f.run->latency);
    for (std::size_t p = 0; p < result.phases.size(); ++p) result.phases[p].histogram.merge(f.phases[p]);
    result.failed_ops += f.failed_ops;
    result.resent_ops += f.resent_ops;
    result.client_thread_cpu += f.cpu;
  }
  return result;
}

}  // namespace shmraft::bench
