#include "bench/kit/report.h"

#include <fmt/format.h>

#include <stdexcept>

#include "bench/kit/units.h"

namespace shmraft::bench {

namespace {

using nlohmann::json;

double us(uint64_t ns) {
  return static_cast<double>(ns) / 1e3;
}

json latency_json(const Histogram& h) {
  const LatencyUs l = LatencyUs::of(h);
  return json{{"p50", l.p50}, {"p90", l.p90}, {"p99", l.p99},  {"p999", l.p999},
              {"max", l.max}, {"min", l.min}, {"mean", l.mean}};
}

json cpu_json(const CpuUsage& cpu, uint64_t ops) {
  return json{{"user_s", cpu.total.user_s},
              {"system_s", cpu.total.system_s},
              {"wall_s", cpu.wall_s},
              {"cores", cpu.cores()},
              {"cpu_us_per_op", cpu.cpu_s_per_op(ops) * 1e6}};
}

json floors_json(const std::vector<FloorResult>& floors) {
  json out = json::array();
  for (const FloorResult& f : floors) {
    out.push_back(json{{"shape", to_string(f.spec.shape)},
                       {"processes", f.spec.processes},
                       {"wait", ipc::to_string(f.spec.wait)},
                       {"rounds", f.round_trip.count()},
                       {"latency_us", latency_json(f.round_trip)}});
  }
  return out;
}

void add_floor_ratio(json& out, const TransportResult& result, const FloorResult* best) {
  if (best == nullptr || result.run.latency.empty()) return;
  out["p50_over_floor"] = static_cast<double>(result.run.latency.value_at_percentile(50)) /
                          static_cast<double>(best->round_trip.value_at_percentile(50));
}

double ratio(double numerator, double denominator) {
  return denominator > 0 ? numerator / denominator : 0;
}

// The row cells of one latency histogram: p50 p90 p99 p99.9 max.
std::string latency_cells(const Histogram& h) {
  if (h.empty()) return fmt::format("{:>9} {:>9} {:>9} {:>9} {:>9}", "-", "-", "-", "-", "-");
  return fmt::format("{:>9} {:>9} {:>9} {:>9} {:>9}", format_ns(h.value_at_percentile(50)),
                     format_ns(h.value_at_percentile(90)), format_ns(h.value_at_percentile(99)),
                     format_ns(h.value_at_percentile(99.9)), format_ns(h.max()));
}

}  // namespace

const FloorResult* commit_floor(const BenchConfig& config, const std::vector<FloorResult>& floors) {
  return best_floor(floors, FloorShape::commit, static_cast<int>(config.nodes) + 1);
}

bool rate_met(const BenchConfig& config, const RunOutcome& run) {
  return !config.open_loop() || run.throughput_ops_per_s() >= kRateMetFraction * config.rate_ops_per_s;
}

LatencyUs LatencyUs::of(const Histogram& h) {
  return {us(h.value_at_percentile(50)),
          us(h.value_at_percentile(90)),
          us(h.value_at_percentile(99)),
          us(h.value_at_percentile(99.9)),
          us(h.max()),
          us(h.min()),
          h.mean() / 1e3};
}

json transport_json(const TransportResult& r) {
  json out{{"ops", r.run.ops},
           {"duration_s", r.run.duration_s},
           {"throughput_ops_per_s", r.run.throughput_ops_per_s()},
           {"latency_us", latency_json(r.run.latency)},
           {"interrupted", r.run.interrupted}};
  if (!r.phases.empty()) {
    json phases = json::object();
    for (const NamedHistogram& phase : r.phases) phases[phase.name] = latency_json(phase.histogram);
    out["phases_us"] = std::move(phases);
  }
  if (!r.operations.empty()) {
    json kinds = json::object();
    for (const OperationOutcome& kind : r.operations) {
      kinds[kind.name] =
          json{{"ops", kind.ops},
               {"throughput_ops_per_s", r.run.duration_s > 0 ? kind.ops / r.run.duration_s : 0},
               {"latency_us", latency_json(kind.latency)}};
    }
    out["operations"] = std::move(kinds);
  }
  if (r.node_cpu) out["cpu"] = cpu_json(*r.node_cpu, r.run.ops);
  if (!r.node_peak_rss_bytes.empty()) out["peak_rss_bytes"] = r.node_peak_rss_bytes;
  if (!r.node_sleeps.empty() && r.run.ops > 0) {
    json per_op = json::array();
    for (const uint64_t sleeps : r.node_sleeps) per_op.push_back(static_cast<double>(sleeps) / r.run.ops);
    out["sleeps_per_op"] = std::move(per_op);
  }
  if (r.elections) out["elections"] = *r.elections;
  return out;
}

json to_json(const BenchReport& report) {
  if (report.transports.empty() || report.transports.size() > 2) {
    throw std::invalid_argument("bench report needs one transport, or two to compare");
  }
  json out{{"config", report.config}};
  const TransportResult& first = report.transports.front();
  const FloorResult* best = commit_floor(report.config, report.floors);
  const auto add_transport = [&](json& into, const TransportResult& r) {
    into.update(transport_json(r));
    add_floor_ratio(into, r, best);
    if (report.config.open_loop()) into["rate_met"] = rate_met(report.config, r.run);
  };
  if (report.transports.size() == 1) {
    add_transport(out, first);
  } else {
    const TransportResult& second = report.transports.back();
    for (const TransportResult* r : {&first, &second}) add_transport(out[r->transport], *r);
    const LatencyUs a = LatencyUs::of(first.run.latency);
    const LatencyUs b = LatencyUs::of(second.run.latency);
    out["ratio"] =
        json{{"p50", ratio(b.p50, a.p50)},
             {"p90", ratio(b.p90, a.p90)},
             {"p99", ratio(b.p99, a.p99)},
             {"p999", ratio(b.p999, a.p999)},
             {"max", ratio(b.max, a.max)},
             {"throughput", ratio(first.run.throughput_ops_per_s(), second.run.throughput_ops_per_s())}};
  }
  out["floor"] = floors_json(report.floors);
  if (best != nullptr) {
    out["floor_best"] = json{{"shape", to_string(best->spec.shape)},
                             {"processes", best->spec.processes},
                             {"wait", ipc::to_string(best->spec.wait)},
                             {"p50_us", us(best->round_trip.value_at_percentile(50))}};
  }
  if (report.segment_bytes) out["segment_bytes"] = report.segment_bytes;
  if (report.host) out["host"] = to_json(*report.host);
  return out;
}

std::string to_text(const BenchReport& report) {
  if (report.transports.empty() || report.transports.size() > 2) {
    throw std::invalid_argument("bench report needs one transport, or two to compare");
  }
  const BenchConfig& c = report.config;
  const FloorResult* best = commit_floor(c, report.floors);
  std::string out = fmt::format("shmraft bench: {}\n", c.describe());
  out += fmt::format("warm-up {:.1f} s, measured {:.1f} s, {} operations in flight\n\n",
                     std::chrono::duration<double>(c.warmup).count(),
                     std::chrono::duration<double>(c.measure).count(), c.in_flight());
  out += fmt::format("{:<16} {:>11} {:>8} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "transport", "ops", "time",
                     "ops/s", "p50", "p90", "p99", "p99.9", "max");
  for (const TransportResult& r : report.transports) {
    out += fmt::format("{:<16} {:>11} {:>6.2f} s {:>12} {}\n", r.transport, r.run.ops, r.run.duration_s,
                       format_count(r.run.throughput_ops_per_s()), latency_cells(r.run.latency));
    for (const OperationOutcome& kind : r.operations) {
      out += fmt::format("  {:<14} {:>11} {:>8} {:>12} {}\n", kind.name, kind.ops, "",
                         format_count(r.run.duration_s > 0 ? kind.ops / r.run.duration_s : 0),
                         latency_cells(kind.latency));
    }
  }
  if (report.transports.size() == 2) {
    const TransportResult& a = report.transports[0];
    const TransportResult& b = report.transports[1];
    const LatencyUs la = LatencyUs::of(a.run.latency);
    const LatencyUs lb = LatencyUs::of(b.run.latency);
    out += fmt::format("{:<16} {:>11} {:>8} {:>11.2f}x {:>8.1f}x {:>8.1f}x {:>8.1f}x {:>8.1f}x {:>8.1f}x\n",
                       b.transport + " vs " + a.transport, "", "",
                       ratio(a.run.throughput_ops_per_s(), b.run.throughput_ops_per_s()),
                       ratio(lb.p50, la.p50), ratio(lb.p90, la.p90), ratio(lb.p99, la.p99),
                       ratio(lb.p999, la.p999), ratio(lb.max, la.max));
    out += fmt::format("  (ops/s: {0} ÷ {1}; latencies: {1} ÷ {0})\n", a.transport, b.transport);
  }
  for (const TransportResult& r : report.transports) {
    if (r.phases.empty()) continue;
    out += fmt::format("\nphases ({}){:<{}} {:>9} {:>9} {:>9} {:>9} {:>9}\n", r.transport, "",
                       8 - static_cast<int>(r.transport.size()), "p50", "p90", "p99", "p99.9", "max");
    for (const NamedHistogram& phase : r.phases) {
      out += fmt::format("  {:<16} {}\n", phase.name, latency_cells(phase.histogram));
    }
  }
  if (!report.floors.empty()) {
    out += fmt::format("\nphysical floor (a token through the processes over shared cache lines; {}):\n",
                       "ring: round N processes, commit: client → leader → followers → leader → client");
    for (const FloorResult& f : report.floors) {
      out += fmt::format("  {:<6} {:>2} processes, {:<10} {}{}\n", to_string(f.spec.shape), f.spec.processes,
                         ipc::to_string(f.spec.wait), latency_cells(f.round_trip),
                         &f == best ? "  <- best" : "");
    }
    if (best != nullptr) {
      for (const TransportResult& r : report.transports) {
        if (r.run.latency.empty()) continue;
        out += fmt::format("  {} p50 ÷ best floor ({} {} processes, {}) = {:.1f}\n", r.transport,
                           to_string(best->spec.shape), best->spec.processes, ipc::to_string(best->spec.wait),
                           static_cast<double>(r.run.latency.value_at_percentile(50)) /
                               static_cast<double>(best->round_trip.value_at_percentile(50)));
      }
    }
  }
  if (report.host) out += "host: " + to_text(*report.host) + "\n";
  for (const TransportResult& r : report.transports) {
    if (!rate_met(c, r.run))
      out += fmt::format("RATE NOT MET ({}): {} ops/s of the {} asked\n", r.transport,
                         format_count(r.run.throughput_ops_per_s()), format_count(c.rate_ops_per_s));
  }
  for (const TransportResult& r : report.transports) {
    if (r.node_cpu) {
      const CpuUsage& cpu = *r.node_cpu;
      out += fmt::format(
          "\ncpu ({}): nodes used {:.2f} s user + {:.2f} s system over {:.2f} s = {:.3f} cores, {} per op",
          r.transport, cpu.total.user_s, cpu.total.system_s, cpu.wall_s, cpu.cores(),
          format_ns(cpu.cpu_s_per_op(r.run.ops) * 1e9));
    }
    if (!r.node_peak_rss_bytes.empty()) {
      out += fmt::format("\npeak RSS per node ({}):", r.transport);
      for (std::size_t node = 0; node < r.node_peak_rss_bytes.size(); ++node) {
        out += node ? ", " : " ";
        out += format_bytes(static_cast<double>(r.node_peak_rss_bytes[node]));
      }
    }
    if (!r.node_sleeps.empty() && r.run.ops > 0) {
      out += fmt::format("\nsleeps per op per node ({}; futex/epoll waits, each a wake-up):", r.transport);
      for (std::size_t node = 0; node < r.node_sleeps.size(); ++node)
        out +=
            fmt::format("{}{:.2f}", node ? ", " : " ", static_cast<double>(r.node_sleeps[node]) / r.run.ops);
    }
    if (r.elections)
      out += fmt::format("\nelections during the measured window ({}): {}", r.transport, *r.elections);
  }
  if (report.segment_bytes)
    out +=
        fmt::format("\nshared-memory segment: {}", format_bytes(static_cast<double>(report.segment_bytes)));
  for (const TransportResult& r : report.transports) {
    if (r.run.interrupted) {
      out += fmt::format("\nINTERRUPTED: {} measured {:.2f} s of {:.2f} s before the stop request",
                         r.transport, r.run.duration_s, std::chrono::duration<double>(c.measure).count());
    }
  }
  if (out.back() != '\n') out += '\n';
  return out;
}

}  // namespace shmraft::bench
