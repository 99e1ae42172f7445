#include "bench/kit/sweep.h"

#include <fmt/format.h>

#include <stdexcept>

namespace shmraft::bench {

namespace {

// RFC 4180: quote a field holding a comma, quote or line break, doubling its quotes.
std::string csv_field(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string quoted = "\"";
  for (char ch : value) {
    if (ch == '"') quoted += '"';
    quoted += ch;
  }
  return quoted + '"';
}

}  // namespace

std::vector<BenchConfig> SweepGrid::expand(const BenchConfig& base) const {
  if (nodes.empty() || clients.empty() || payload_bytes.empty() || fsync.empty()) {
    throw std::invalid_argument(
        "sweep: every dimension (nodes, clients, payload, fsync) needs at least one value");
  }
  std::vector<BenchConfig> configs;
  for (const std::string& f : fsync) {
    for (uint32_t p : payload_bytes) {
      for (uint32_t n : nodes) {
        for (uint32_t c : clients) {
          BenchConfig config = base;
          config.nodes = n;
          config.clients = c;
          config.payload_bytes = p;
          config.fsync = f;
          configs.push_back(std::move(config));
        }
      }
    }
  }
  return configs;
}

void write_sweep_csv(std::ostream& out, std::span<const SweepPoint> points) {
  out << "nodes,clients,pipeline,payload_bytes,fsync,wait,transport,rate_ops_per_s,ops,duration_s,"
         "throughput_ops_per_s,p50_us,p90_us,p99_us,p999_us,max_us,mean_us,cpu_us_per_op,cores,interrupted,"
         "in_flight,client_threads,reads,in_leader\n";
  for (const SweepPoint& point : points) {
    const BenchConfig& c = point.config;
    const TransportResult& r = point.result;
    const LatencyUs l = LatencyUs::of(r.run.latency);
    std::string cpu_cells = ",";
    if (r.node_cpu) {
      cpu_cells =
          fmt::format("{:.4f},{:.4f}", r.node_cpu->cpu_s_per_op(r.run.ops) * 1e6, r.node_cpu->cores());
    }
    out << fmt::format(
        "{},{},{},{},{},{},{},{},{},{:.3f},{:.1f},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f},{},{},{},{},{:g},"
        "{}\n",
        c.nodes, c.clients, c.pipeline, c.payload_bytes, csv_field(c.fsync), csv_field(c.wait),
        csv_field(c.transport), c.open_loop() ? fmt::format("{:g}", c.rate_ops_per_s) : "", r.run.ops,
        r.run.duration_s, r.run.throughput_ops_per_s(), l.p50, l.p90, l.p99, l.p999, l.max, l.mean, cpu_cells,
        r.run.interrupted ? "true" : "false", c.in_flight(), c.client_threads, c.reads,
        c.in_leader ? "true" : "false");
  }
}

}  // namespace shmraft::bench
