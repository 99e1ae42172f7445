#include "launcher/bench/bench_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include "bench/kit/floor.h"
#include "bench/kit/host_info.h"
#include "bench/kit/report.h"
#include "bench/kit/stop_flag.h"
#include "bench/kit/sweep.h"
#include "bench/kit/sweep_html.h"
#include "bench/kit/units.h"
#include "launcher/bench/bench_run.h"
#include "launcher/bench/client_load.h"
#include "launcher/bench/device_flush.h"
#include "launcher/cluster_dirs.h"
#include "launcher/launcher_error.h"
#include "node/storage/format.h"

namespace shmraft::bench {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kExitInterrupted = 130;

// The host is shared: every figure travels with the load average it was measured under.
std::array<double, 3> load_average() {
  std::array<double, 3> load{};
  std::ifstream in("/proc/loadavg");
  in >> load[0] >> load[1] >> load[2];
  return load;
}

std::string hostname() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

// The floors every planned configuration is compared with: the 2- and 3-process rings and the commit
// round of each planned node count, each with every strategy of kFloorStrategies (and the run's own wait
// if it is another), so the best is the machine's floor, not our wait's.
std::vector<FloorResult> measure_floors(const BenchOptions& o, const std::vector<BenchConfig>& configs) {
  std::vector<FloorResult> floors;
  if (!o.floor) return floors;
  std::vector<FloorSpec> shapes;
  for (const int processes : {2, 3}) {
    FloorSpec ring;
    ring.processes = processes;
    shapes.push_back(ring);
  }
  for (const BenchConfig& c : configs) {
    const FloorSpec commit = commit_floor_spec(c.nodes);
    const bool planned = std::any_of(shapes.begin(), shapes.end(), [&](const FloorSpec& s) {
      return s.shape == commit.shape && s.processes == commit.processes;
    });
    if (!planned) shapes.push_back(commit);
  }
  std::vector<ipc::WaitStrategy> strategies(std::begin(kFloorStrategies), std::end(kFloorStrategies));
  const ipc::WaitStrategy own = ipc::parse_wait_strategy_or_throw(o.config.wait);
  if (std::find(strategies.begin(), strategies.end(), own) == strategies.end()) strategies.push_back(own);
  for (FloorSpec spec : shapes) {
    for (const ipc::WaitStrategy wait : strategies) {
      spec.wait = wait;
      spec.spin_time = std::chrono::microseconds(o.spin_us);
      spec.rounds = o.floor_rounds;
      spec.warmup_rounds = std::min<uint64_t>(1000, o.floor_rounds / 10);
      spec.max_duration = std::chrono::milliseconds(500);
      floors.push_back(measure_floor(spec));
    }
  }
  return floors;
}

// This host, with the bare cache-line round trip when floors are measured at all.
HostInfo measure_host(const BenchOptions& o) {
  HostInfo host = read_host_info();
  if (!o.floor) return host;
  FloorSpec bare;
  bare.processes = 2;
  bare.wait = ipc::WaitStrategy::spin;
  bare.rounds = o.floor_rounds;
  bare.warmup_rounds = std::min<uint64_t>(1000, o.floor_rounds / 10);
  bare.max_duration = std::chrono::milliseconds(200);  // two pure spinners: short on a busy host
  const FloorResult measured = measure_floor(bare);
  host.cache_line_round_trip_ns = measured.round_trip.min();
  host.cache_line_round_trip_p50_ns = measured.round_trip.value_at_percentile(50);
  return host;
}

// When a planned configuration flushes (and floors are wanted at all): one device flush, and for each
// node count above 1 among the flushing configurations, that many copies flushed at once until a
// majority is durable. Sorted by copies, one copy first.
std::vector<FlushResult> measure_flushes(const BenchOptions& o, const std::vector<BenchConfig>& configs) {
  std::vector<FlushResult> flushes;
  if (!o.floor) return flushes;
  auto measured = [&](uint32_t copies) {
    return std::any_of(flushes.begin(), flushes.end(),
                       [&](const FlushResult& f) { return f.spec.copies == copies; });
  };
  for (const BenchConfig& c : configs) {
    if (c.fsync == "none") continue;
    for (const uint32_t copies : {1u, c.nodes}) {
      if (measured(copies)) continue;
      FlushSpec spec;
      spec.dir = o.data_dir.empty() ? launcher::default_data_base() : o.data_dir;
      spec.record_bytes = static_cast<uint32_t>(storage::format::record_bytes(c.payload_bytes));
      spec.copies = copies;
      flushes.push_back(measure_device_flush(spec));
    }
  }
  std::sort(flushes.begin(), flushes.end(),
            [](const FlushResult& a, const FlushResult& b) { return a.spec.copies < b.spec.copies; });
  return flushes;
}

const FlushResult* flush_of(const std::vector<FlushResult>& flushes, uint32_t copies) {
  for (const FlushResult& f : flushes)
    if (f.spec.copies == copies && !f.latency.empty()) return &f;
  return nullptr;
}

// What the commit of a flushing configuration can be compared with: the flush of `copies` copies (1:
// one device flush; the node count: a majority of the nodes' copies) plus the floor.
std::optional<double> flush_plus_floor_ns(const BenchConfig& c, const std::vector<FloorResult>& floors,
                                          const std::vector<FlushResult>& flushes, uint32_t copies) {
  const FloorResult* floor = commit_floor(c, floors);
  const FlushResult* flush = flush_of(flushes, copies);
  if (c.fsync == "none" || flush == nullptr || floor == nullptr) return std::nullopt;
  return static_cast<double>(flush->latency.value_at_percentile(50) +
                             floor->round_trip.value_at_percentile(50));
}

json latency_us_json(const Histogram& h) {
  const LatencyUs l = LatencyUs::of(h);
  return json{{"p50", l.p50}, {"p90", l.p90}, {"p99", l.p99}, {"p999", l.p999}, {"max", l.max}};
}

// Everything measured or decided once per invocation, shared by every configuration it runs.
struct Invocation {
  const BenchOptions& options;
  std::vector<BenchConfig> configs;
  std::vector<FloorResult> floors;
  std::vector<FlushResult> flushes;  // measure_flushes()
  HostInfo host;
  std::array<double, 3> load_at_start{};
  StopFlag& stop;
};

// The open-loop check of bench::validate again, now with the fastest round of the best commit floor as
// the least commit latency. The fastest, not the median: on a busy host the median floor is scheduling,
// not physics.
void check_rate_against_floor(const std::vector<BenchConfig>& configs,
                              const std::vector<FloorResult>& floors) {
  for (const BenchConfig& c : configs) {
    if (!c.open_loop()) continue;
    const FloorResult* floor = commit_floor(c, floors);
    if (floor == nullptr || floor->round_trip.empty()) continue;
    BenchLimits limits = bench_limits();
    limits.min_commit_ns = static_cast<double>(floor->round_trip.min());
    validate(c, limits);
  }
}

RunSettings settings_for(const BenchOptions& o, std::string prefix) {
  RunSettings s;
  s.cluster = ClusterSpec{o.attach_to, o.data_dir, o.node_args, o.keep_data, o.spin_us};
  s.progress_interval =
      std::chrono::nanoseconds(static_cast<int64_t>(std::llround(o.progress_interval_s * 1e9)));
  s.progress_prefix = std::move(prefix);
  s.spin = std::chrono::microseconds(o.spin_us);
  if (o.failover.any()) s.failover = &o.failover;
  return s;
}

json cpu_json(const CpuUsage& cpu, uint64_t ops) {
  return json{{"user_s", cpu.total.user_s},
              {"system_s", cpu.total.system_s},
              {"cores", cpu.cores()},
              {"cpu_us_per_op", cpu.cpu_s_per_op(ops) * 1e6}};
}

// What the command knows beyond the kit's report: failures, node exits, the client side's CPU.
void add_run_details(json& out, const ConfigRun& run) {
  out["failed_ops"] = run.failed_ops;
  out["resent_ops"] = run.resent_ops;
  out["node_exits"] = run.node_exits;
  if (run.client_cpu) {
    out["client_cpu"] = cpu_json(*run.client_cpu, run.result.run.ops);
    // Under --in-leader the client threads' CPU is also part of this node's (and so of "cpu").
    if (run.load_node != 0) out["client_cpu"]["inside_node"] = run.load_node;
  }
  if (run.failover) out[run.failover->reconfigures() ? "reconfigure" : "failover"] = to_json(*run.failover);
}

std::string run_details_text(const ConfigRun& run) {
  std::string out;
  const std::string& t = run.result.transport;
  if (run.client_cpu) {
    const std::string where =
        run.load_node == 0
            ? std::string("client threads")
            : fmt::format("in-leader client threads (inside node {}: also counted in the nodes' cpu)",
                          run.load_node);
    const uint64_t ops = run.result.run.ops;
    out += fmt::format("cpu ({}): {} {:.3f} cores, {} per op", t, where, run.client_cpu->cores(),
                       format_ns(run.client_cpu->cpu_s_per_op(ops) * 1e9));
    if (run.load_node != 0 && run.result.node_cpu && ops > 0) {
      const double nodes_alone_s = run.result.node_cpu->total.total_s() - run.client_cpu->total.total_s();
      out += fmt::format("; the nodes without them {} per op", format_ns(nodes_alone_s / ops * 1e9));
    }
    out += "\n";
  }
  if (run.failed_ops)
    out += fmt::format("FAILED ({}): {} operations timed out or were rejected\n", t, run.failed_ops);
  if (run.resent_ops)
    out += fmt::format("resent ({}): {} operations were sent more than once (attempt timeouts, redirects)\n",
                       t, run.resent_ops);
  for (const std::string& exit : run.node_exits) out += fmt::format("NODE EXIT ({}): {}\n", t, exit);
  if (run.failover) out += to_text(*run.failover);
  return out;
}

// A flushing configuration beside "one device flush + the floor".
// The same with the flush as the cluster itself saw it: the leader's persist phase (its msync of the
// Ready), under the load of three nodes flushing at once — a shared host disk alternates between calm
// (~0.1 ms) and saturated (2-12 ms, quantised) spells, so a probe taken a second earlier can disagree.
std::optional<double> persist_plus_floor_ns(const BenchConfig& c, const TransportResult& r,
                                            const std::vector<FloorResult>& floors) {
  const FloorResult* floor = commit_floor(c, floors);
  if (c.fsync == "none" || floor == nullptr) return std::nullopt;
  for (const NamedHistogram& phase : r.phases) {
    if (phase.name == kLeaderPersistPhase && !phase.histogram.empty())
      return static_cast<double>(phase.histogram.value_at_percentile(50) +
                                 floor->round_trip.value_at_percentile(50));
  }
  return std::nullopt;
}

void add_flush_json(json& out, const BenchConfig& c, const TransportResult& r, const Invocation& inv) {
  if (r.run.latency.empty()) return;
  const auto p50 = static_cast<double>(r.run.latency.value_at_percentile(50));
  if (const auto base = flush_plus_floor_ns(c, inv.floors, inv.flushes, 1))
    out["p50_over_flush_plus_floor"] = p50 / *base;
  if (const auto base = flush_plus_floor_ns(c, inv.floors, inv.flushes, c.nodes); base && c.nodes > 1)
    out["p50_over_majority_flush_plus_floor"] = p50 / *base;
  if (const auto base = persist_plus_floor_ns(c, r, inv.floors))
    out["p50_over_persist_plus_floor"] = p50 / *base;
}

std::string percentiles_text(const Histogram& h) {
  return fmt::format("p50 {}  p99 {}  max {}", format_ns(static_cast<double>(h.value_at_percentile(50))),
                     format_ns(static_cast<double>(h.value_at_percentile(99))),
                     format_ns(static_cast<double>(h.max())));
}

std::string flush_text(const BenchConfig& c, const std::vector<ConfigRun>& runs, const Invocation& inv) {
  const FlushResult* one = flush_of(inv.flushes, 1);
  if (one == nullptr) return {};
  std::string out =
      fmt::format("device flush (append + msync of one {} B record, preallocated file in {}): {}\n",
                  one->spec.record_bytes, one->spec.dir.string(), percentiles_text(one->latency));
  const FlushResult* majority = c.nodes > 1 ? flush_of(inv.flushes, c.nodes) : nullptr;
  if (majority != nullptr)
    out += fmt::format(
        "  {} copies at once (a file and a thread each, as the nodes flush), until {} are durable: {}\n",
        c.nodes, c.nodes / 2 + 1, percentiles_text(majority->latency));
  const auto base = flush_plus_floor_ns(c, inv.floors, inv.flushes, 1);
  const auto majority_base = flush_plus_floor_ns(c, inv.floors, inv.flushes, c.nodes);
  for (const ConfigRun& run : runs) {
    if (!base || run.result.run.latency.empty()) continue;
    const auto p50 = static_cast<double>(run.result.run.latency.value_at_percentile(50));
    out += fmt::format("  {} p50 ÷ (flush p50 + floor p50) = {:.2f}", run.result.transport, p50 / *base);
    if (majority != nullptr && majority_base)
      out += fmt::format(";  ÷ (majority p50 + floor p50) = {:.2f}", p50 / *majority_base);
    if (const auto persist = persist_plus_floor_ns(c, run.result, inv.floors))
      out += fmt::format(";  ÷ (leader persist p50 + floor p50) = {:.2f}", p50 / *persist);
    out += "\n";
  }
  return out;
}

json load_json(const std::array<double, 3>& at_start, const std::array<double, 3>& at_end) {
  return json{{"start", at_start}, {"end", at_end}};
}

// Exit code of a finished run: interrupted, or a node died under the benchmark, or fine.
int exit_code_of(const std::vector<ConfigRun>& runs, bool interrupted) {
  if (interrupted) return kExitInterrupted;
  for (const ConfigRun& run : runs) {
    if (!run.node_exits.empty()) {
      std::cerr << "shmraft: " << run.node_exits.front() << " during the benchmark; figures are suspect\n";
      return 1;
    }
    if (run.failover && run.failover->lost_ops != 0) {
      std::cerr << "shmraft: " << run.failover->lost_ops
                << " acknowledged writes were lost across fail-overs\n";
      return 1;
    }
  }
  return 0;
}

int report_runs(const Invocation& inv, const std::vector<ConfigRun>& runs) {
  const BenchOptions& o = inv.options;
  BenchReport report;
  report.config = inv.configs.front();
  report.floors = inv.floors;
  report.host = inv.host;
  if (runs.size() == 1) report.config.transport = runs.front().result.transport;
  for (const ConfigRun& run : runs) {
    report.transports.push_back(run.result);
    report.segment_bytes = std::max<uint64_t>(report.segment_bytes, run.segment_bytes);
  }
  const std::array<double, 3> load_at_end = load_average();
  if (o.json) {
    json out = to_json(report);
    for (const ConfigRun& run : runs) {
      json& details = runs.size() == 1 ? out : out[run.result.transport];
      add_run_details(details, run);
      add_flush_json(details, report.config, run.result, inv);
    }
    if (const FlushResult* one = flush_of(inv.flushes, 1)) {
      json& flush = out["device_flush"] = json{{"dir", one->spec.dir.string()},
                                               {"rounds", one->latency.count()},
                                               {"latency_us", latency_us_json(one->latency)}};
      const uint32_t nodes = report.config.nodes;
      if (const FlushResult* majority = flush_of(inv.flushes, nodes); majority != nullptr && nodes > 1)
        flush["majority"] = json{{"copies", nodes},
                                 {"rounds", majority->latency.count()},
                                 {"latency_us", latency_us_json(majority->latency)}};
    }
    out["config"]["spin_us"] = o.spin_us;
    out["load_average"] = load_json(inv.load_at_start, load_at_end);
    out["clients_as"] = "logical";  // config.client_threads event loops drive them
    std::cout << out.dump(2) << std::endl;
  } else {
    std::string text = to_text(report);
    for (const ConfigRun& run : runs) text += run_details_text(run);
    text += flush_text(report.config, runs, inv);
    text += fmt::format("load average {:.2f} at start, {:.2f} at end (1 min; {} cores)\n",
                        inv.load_at_start[0], load_at_end[0], sysconf(_SC_NPROCESSORS_ONLN));
    std::cout << text << std::flush;
  }
  return exit_code_of(runs, inv.stop.requested());
}

// An open loop that could not keep its rate measured a lighter load than asked: say so where a user
// looking at the figures will see it, whatever the output format.
void warn_if_rate_missed(const BenchConfig& config, const ConfigRun& run) {
  const RunOutcome& r = run.result.run;
  if (r.interrupted || rate_met(config, r)) return;
  fmt::print(stderr, "shmraft: warning: the open loop did not keep its rate: {} ops/s of the {} asked ({})\n",
             format_count(r.throughput_ops_per_s()), format_count(config.rate_ops_per_s),
             run.result.transport);
}

int run_single_or_compare(const Invocation& inv) {
  std::vector<ConfigRun> runs;
  for (const BenchConfig& config : inv.configs) {
    if (inv.stop.requested()) break;
    const std::string prefix = inv.configs.size() > 1 ? "[" + config.transport + "] " : "";
    ConfigRun run = run_config(config, settings_for(inv.options, prefix), inv.stop);
    if (run.started) warn_if_rate_missed(config, run);
    if (run.started || runs.empty()) runs.push_back(std::move(run));
  }
  return report_runs(inv, runs);
}

std::string sweep_subtitle(const Invocation& inv) {
  const std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", std::localtime(&now));
  std::string subtitle = fmt::format("{} · {} · {} · load average {:.2f} at start", hostname(), date,
                                     to_text(inv.host), inv.load_at_start[0]);
  for (const FloorResult& f : inv.floors) {
    if (&f != best_floor(inv.floors, f.spec.shape, f.spec.processes)) continue;
    subtitle += fmt::format(
        " · best {} floor of {} processes p50 {} ({})", to_string(f.spec.shape), f.spec.processes,
        format_ns(static_cast<double>(f.round_trip.value_at_percentile(50))), ipc::to_string(f.spec.wait));
  }
  for (const FlushResult& f : inv.flushes) {
    if (f.latency.empty()) continue;
    const std::string what =
        f.spec.copies == 1 ? "device flush" : fmt::format("majority of {} flushes", f.spec.copies);
    subtitle +=
        fmt::format(" · {} p50 {}", what, format_ns(static_cast<double>(f.latency.value_at_percentile(50))));
  }
  return subtitle;
}

void write_sweep_files(const fs::path& dir, const std::vector<SweepPoint>& points,
                       const std::string& subtitle) {
  std::ofstream csv(dir / "sweep.csv", std::ios::trunc);
  write_sweep_csv(csv, points);
  std::ofstream html(dir / "sweep.html", std::ios::trunc);
  write_sweep_html(html, points, subtitle);
  if (!csv || !html) throw std::runtime_error("cannot write the sweep report into " + dir.string());
}

int run_sweep(const Invocation& inv) {
  const BenchOptions& o = inv.options;
  const std::vector<BenchConfig>& configs = inv.configs;
  StopFlag& stop = inv.stop;
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) throw std::runtime_error("cannot create --out " + o.out_dir.string() + ": " + ec.message());
  const std::string subtitle = sweep_subtitle(inv);
  std::vector<SweepPoint> points;
  std::vector<ConfigRun> runs;
  json point_json = json::array();
  for (std::size_t i = 0; i < configs.size() && !stop.requested(); ++i) {
    const BenchConfig& config = configs[i];
    const std::string prefix = fmt::format("[{}/{}] ", i + 1, configs.size());
    fmt::print(stderr, "{}{}\n", prefix, config.describe());
    ConfigRun run = run_config(config, settings_for(o, prefix), stop);
    if (!run.started) break;
    const RunOutcome& r = run.result.run;
    fmt::print(stderr, "{}{} ops/s  p50 {}  p99 {}  max {}{}\n", prefix,
               format_count(r.throughput_ops_per_s()),
               format_ns(static_cast<double>(r.latency.value_at_percentile(50))),
               format_ns(static_cast<double>(r.latency.value_at_percentile(99))),
               format_ns(static_cast<double>(r.latency.max())), r.interrupted ? "  (interrupted)" : "");
    warn_if_rate_missed(config, run);
    points.push_back({config, run.result, run.failover});
    json j{{"config", config}};
    j.update(transport_json(run.result));
    if (config.open_loop()) j["rate_met"] = rate_met(config, run.result.run);
    add_run_details(j, run);
    add_flush_json(j, config, run.result, inv);
    point_json.push_back(std::move(j));
    runs.push_back(std::move(run));
    write_sweep_files(o.out_dir, points, subtitle);  // after every point: an interrupted sweep keeps its data
  }
  const fs::path csv = o.out_dir / "sweep.csv", html = o.out_dir / "sweep.html";
  if (o.json) {
    json floors_out = json::array();
    for (const FloorResult& f : inv.floors) {
      floors_out.push_back(json{{"shape", to_string(f.spec.shape)},
                                {"processes", f.spec.processes},
                                {"wait", ipc::to_string(f.spec.wait)},
                                {"latency_us", LatencyUs::of(f.round_trip).p50}});
    }
    std::cout << json{{"points", point_json},
                      {"floor_p50_us", floors_out},
                      {"csv", csv.string()},
                      {"html", html.string()},
                      {"interrupted", stop.requested()},
                      {"host", to_json(inv.host)},
                      {"load_average", load_json(inv.load_at_start, load_average())}}
                     .dump(2)
              << std::endl;
  } else {
    std::cout << fmt::format("sweep: {} of {} configurations measured{}; wrote {} and {}\n", points.size(),
                             configs.size(), stop.requested() ? " (interrupted)" : "", csv.string(),
                             html.string());
  }
  return exit_code_of(runs, stop.requested());
}

}  // namespace

int run_bench(const BenchOptions& options) {
  try {
    validate(options);
  } catch (const std::invalid_argument& e) {
    throw launcher::UsageError(e.what());  // refused before anything starts: exit 2, as a parse error
  }
  StopFlag stop;
  StopOnSignals on_ctrl_c(stop);
  Invocation inv{options, planned_configs(options), {}, {}, {}, load_average(), stop};
  if (!options.attach_to.empty())
    inv.configs.front() = config_for_running_cluster(options.attach_to, inv.configs.front());
  // Before any cluster starts, so nothing of ours competes with the floors.
  inv.host = measure_host(options);
  inv.floors = measure_floors(options, inv.configs);
  check_rate_against_floor(inv.configs, inv.floors);
  inv.flushes = measure_flushes(options, inv.configs);
  return options.sweep ? run_sweep(inv) : run_single_or_compare(inv);
}

}  // namespace shmraft::bench

namespace shmraft::launcher {

void add_bench_command(CLI::App& root, CommandList& commands) {
  auto options = std::make_shared<bench::BenchOptions>();
  CLI::App* app = root.add_subcommand(
      "bench",
      "Start a throwaway cluster, drive load, report commit latency and throughput beside the floor");
  app->footer(
      "Everything after `--` is passed to every node (see `shmraft node --help`). Exit 130 after Ctrl-C (the "
      "figures measured so far are printed).");
  bench::add_bench_flags(*app, *options);
  commands.push_back({app, [options] { return bench::run_bench(*options); }});
}

}  // namespace shmraft::launcher
