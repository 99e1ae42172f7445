#include "bench/kit/report.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "bench/kit/sweep.h"
#include "bench/kit/sweep_html.h"

namespace shmraft::bench {
namespace {

using nlohmann::json;

TransportResult result(const std::string& transport, uint64_t base_ns, uint64_t ops, double seconds) {
  TransportResult r{
      transport, RunOutcome{ops, seconds, false, Histogram()}, {}, std::nullopt, {}, {}, std::nullopt, {}};
  for (uint64_t i = 0; i < 1000; ++i) r.run.latency.record(base_ns + i * base_ns / 1000);
  return r;
}

FloorResult floor_of(FloorShape shape, int processes, ipc::WaitStrategy wait, uint64_t ns) {
  FloorSpec spec;
  spec.shape = shape;
  spec.processes = processes;
  spec.wait = wait;
  FloorResult f{spec, Histogram(), processes};
  f.round_trip.record(ns, 100);
  return f;
}

TEST(BenchReportJson, SingleTransportHasTheDesignKeys) {
  BenchReport report;
  report.transports.push_back(result("shm", 2000, 5'000'000, 10.0));
  // The 3-node run's commit round is 4 processes; the rings and another shape's commit do not count.
  report.floors = {floor_of(FloorShape::ring, 2, ipc::WaitStrategy::adaptive, 100),
                   floor_of(FloorShape::commit, 4, ipc::WaitStrategy::adaptive, 1000),
                   floor_of(FloorShape::commit, 4, ipc::WaitStrategy::spin_block, 500),
                   floor_of(FloorShape::commit, 6, ipc::WaitStrategy::block, 200)};
  report.segment_bytes = 8 << 20;
  HostInfo host;
  host.cpu_vendor = "AuthenticAMD";
  host.cpu_family = 26;
  host.cache_line_round_trip_ns = 411;
  report.host = host;
  const json j = to_json(report);
  for (const char* key : {"config", "ops", "duration_s", "throughput_ops_per_s", "latency_us", "floor",
                          "floor_best", "p50_over_floor", "segment_bytes", "host"}) {
    EXPECT_TRUE(j.contains(key)) << key << " missing in " << j.dump();
  }
  for (const char* key : {"p50", "p90", "p99", "p999", "max"})
    EXPECT_TRUE(j["latency_us"].contains(key)) << key;
  EXPECT_EQ(j["ops"], 5'000'000);
  EXPECT_DOUBLE_EQ(j["throughput_ops_per_s"].get<double>(), 500'000.0);
  EXPECT_NEAR(j["latency_us"]["p50"].get<double>(), 3.0, 0.03);
  EXPECT_EQ(j["config"]["nodes"], 3);
  EXPECT_EQ(j["config"]["loop"], "closed");
  EXPECT_TRUE(j["config"]["rate_ops_per_s"].is_null());
  EXPECT_NEAR(j["p50_over_floor"].get<double>(), 6.0, 0.1);  // ÷ the best commit floor of 4 processes
  EXPECT_EQ(j["floor_best"]["wait"], "spin-block");
  EXPECT_EQ(j["floor_best"]["processes"], 4);
  EXPECT_EQ(j["floor_best"]["shape"], "commit");
  EXPECT_EQ(j["floor"].size(), 4u);
  EXPECT_EQ(j["floor"][1]["shape"], "commit");
  EXPECT_EQ(j["host"]["cpu_family"], 26);
  EXPECT_EQ(j["host"]["cache_line_round_trip_ns"], 411);
  EXPECT_FALSE(j.contains("rate_met"));  // closed loop
  EXPECT_FALSE(j.contains("shm"));
  EXPECT_FALSE(j.contains("ratio"));
}

TEST(BenchReportJson, CompareHasPerTransportObjectsAndRatios) {
  BenchReport report;
  report.transports.push_back(result("shm", 2000, 5'000'000, 10.0));
  report.transports.push_back(result("tcp", 40'000, 250'000, 10.0));
  report.transports[0].node_cpu = CpuUsage{{}, {1.0, 0.5}, 10.0};
  report.transports[0].node_peak_rss_bytes = {1 << 20, 2 << 20, 3 << 20};
  report.transports[0].node_sleeps = {7'500'000, 5'000'000, 0};
  report.transports[0].elections = 2;
  const json j = to_json(report);
  ASSERT_TRUE(j.contains("shm") && j.contains("tcp") && j.contains("ratio") && j.contains("config"));
  for (const char* t : {"shm", "tcp"}) {
    for (const char* key : {"ops", "duration_s", "throughput_ops_per_s", "latency_us"}) {
      EXPECT_TRUE(j[t].contains(key)) << t << "." << key;
    }
  }
  EXPECT_NEAR(j["ratio"]["p50"].get<double>(), 20.0, 0.5);
  EXPECT_NEAR(j["ratio"]["throughput"].get<double>(), 20.0, 1e-9);
  for (const char* key : {"p90", "p99", "p999", "max"}) EXPECT_GT(j["ratio"][key].get<double>(), 1.0) << key;
  EXPECT_NEAR(j["shm"]["cpu"]["cores"].get<double>(), 0.15, 1e-9);
  EXPECT_NEAR(j["shm"]["cpu"]["cpu_us_per_op"].get<double>(), 0.3, 1e-9);
  EXPECT_EQ(j["shm"]["peak_rss_bytes"].size(), 3u);
  EXPECT_EQ(j["shm"]["sleeps_per_op"], json::array({1.5, 1.0, 0.0}));
  EXPECT_FALSE(j["tcp"].contains("cpu"));
  EXPECT_FALSE(j["tcp"].contains("sleeps_per_op"));
  EXPECT_EQ(j["shm"]["elections"], 2);
  EXPECT_FALSE(j["tcp"].contains("elections"));  // not known
  EXPECT_NE(to_text(report).find(
                "sleeps per op per node (shm; futex/epoll waits, each a wake-up): 1.50, 1.00, 0.00"),
            std::string::npos);
  EXPECT_NE(to_text(report).find("elections during the measured window (shm): 2"), std::string::npos);
  EXPECT_EQ(to_text(report).find("elections during the measured window (tcp)"), std::string::npos);
}

TEST(BenchReportJson, PhasesAndInterruptionAreReported) {
  BenchReport report;
  report.transports.push_back(result("shm", 2000, 100, 0.5));
  report.transports[0].run.interrupted = true;
  Histogram persist;
  persist.record(700);
  report.transports[0].phases.push_back({"leader_persist", persist});
  const json j = to_json(report);
  EXPECT_TRUE(j["interrupted"].get<bool>());
  EXPECT_NEAR(j["phases_us"]["leader_persist"]["p50"].get<double>(), 0.7, 0.01);
  EXPECT_NE(to_text(report).find("INTERRUPTED"), std::string::npos);
}

// An open loop that falls short of its rate says so, in the JSON and the text.
TEST(BenchReportJson, OpenLoopSaysWhetherItsRateWasMet) {
  BenchReport report;
  report.config.rate_ops_per_s = 1000;
  report.transports.push_back(result("shm", 2000, 990, 1.0));
  EXPECT_TRUE(to_json(report)["rate_met"].get<bool>());
  EXPECT_EQ(to_text(report).find("RATE NOT MET"), std::string::npos);
  report.transports[0].run.ops = 900;
  EXPECT_FALSE(to_json(report)["rate_met"].get<bool>());
  EXPECT_NE(to_text(report).find("RATE NOT MET (shm): 900 ops/s of the 1.00 K asked"), std::string::npos)
      << to_text(report);
}

// Every JSON key is ASCII snake_case, so jq and every language's field access take it as it is.
TEST(BenchReportJson, KeysAreAsciiSnakeCase) {
  BenchReport report;
  report.config.rate_ops_per_s = 1000;
  report.transports.push_back(result("shm", 2000, 5'000, 10.0));
  report.transports.push_back(result("tcp", 40'000, 2'500, 10.0));
  report.transports[0].phases.push_back({"client_to_leader", Histogram()});
  report.floors = {floor_of(FloorShape::commit, 4, ipc::WaitStrategy::block, 500)};
  report.host = HostInfo{};
  const auto check = [](const json& j, const auto& self) -> void {
    if (j.is_array()) {
      for (const json& item : j) self(item, self);
      return;
    }
    if (!j.is_object()) return;
    for (const auto& [key, value] : j.items()) {
      EXPECT_FALSE(key.empty());
      for (const char ch : key)
        EXPECT_TRUE((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_') << key;
      self(value, self);
    }
  };
  check(to_json(report), check);
}

TEST(HostInfo, ParsesTheFirstProcessorOfCpuinfo) {
  const std::string cpuinfo =
      "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\n"
      "model name\t: AMD EPYC\ncpu MHz\t\t: 2694.896\n\nprocessor\t: 1\nvendor_id\t: Other\n";
  HostInfo host;
  parse_cpuinfo(cpuinfo, host);
  EXPECT_EQ(host.cpu_vendor, "AuthenticAMD");
  EXPECT_EQ(host.cpu_family, 26);
  EXPECT_EQ(host.cpu_model, 2);
  EXPECT_EQ(host.cpu_model_name, "AMD EPYC");
  EXPECT_NEAR(host.cpu_mhz, 2694.896, 1e-9);
  host.cpus = 2;
  host.kernel = "Linux 6.18.44 #1 SMP";
  host.cache_line_round_trip_ns = 411;
  host.cache_line_round_trip_p50_ns = 420;
  EXPECT_EQ(to_text(host),
            "AuthenticAMD family 26 model 2 (AMD EPYC) 2695 MHz · 2 CPUs · Linux 6.18.44 · "
            "cache-line round trip 411 ns (p50 420 ns)");
}

TEST(HostInfo, ThisHostIsRead) {
  const HostInfo host = read_host_info();
  EXPECT_GT(host.cpus, 0);
  EXPECT_EQ(host.kernel.rfind("Linux ", 0), 0u) << host.kernel;
}

TEST(BenchReportJson, RejectsNoTransportOrMoreThanTwo) {
  BenchReport report;
  EXPECT_THROW(to_json(report), std::invalid_argument);
  report.transports.assign(3, result("shm", 1000, 1, 1));
  EXPECT_THROW(to_json(report), std::invalid_argument);
  EXPECT_THROW(to_text(report), std::invalid_argument);
}

TEST(BenchReportText, TableHasARowPerTransportTheRatiosAndTheFloor) {
  BenchReport report;
  report.transports.push_back(result("shm", 2000, 5'000'000, 10.0));
  report.transports.push_back(result("tcp", 40'000, 250'000, 10.0));
  report.floors = {floor_of(FloorShape::ring, 3, ipc::WaitStrategy::yield, 250),
                   floor_of(FloorShape::commit, 4, ipc::WaitStrategy::block, 500)};
  const std::string text = to_text(report);
  for (const char* needle : {"shmraft bench: 3 nodes", "transport", "p99.9", "\nshm ", "\ntcp ", "tcp vs shm",
                             "20.00x", "ring    3 processes, yield", "commit  4 processes, block", "<- best",
                             "shm p50 ÷ best floor (commit 4 processes, block) = 6.0",
                             "tcp p50 ÷ best floor (commit 4 processes, block) = 120"}) {
    EXPECT_NE(text.find(needle), std::string::npos) << "'" << needle << "' not in:\n" << text;
  }
}

TEST(BenchConfig, ValidateNamesTheOffendingFlag) {
  const BenchLimits limits{5, 64, 4096, 100};
  BenchConfig ok;
  EXPECT_NO_THROW(validate(ok, limits));
  const auto message = [&](BenchConfig c) -> std::string {
    try {
      validate(c, limits);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "accepted";
  };
  BenchConfig c = ok;
  c.nodes = 0;
  EXPECT_NE(message(c).find("--nodes 0"), std::string::npos) << message(c);
  c = ok;
  c.payload_bytes = 1 << 20;
  EXPECT_NE(message(c).find("--payload 1048576"), std::string::npos) << message(c);
  c = ok;
  c.clients = 65;
  EXPECT_NE(message(c).find("--clients"), std::string::npos);
  c = ok;
  c.fsync = "sometimes";
  EXPECT_NE(message(c).find("--fsync"), std::string::npos);
  c = ok;
  c.transport = "udp";
  EXPECT_NE(message(c).find("--transport"), std::string::npos);
  c = ok;
  c.wait = "nap";
  EXPECT_NE(message(c).find("--wait"), std::string::npos);
  c = ok;
  c.rate_ops_per_s = 50e6;  // 5 ops in flight at 100 ns, one client with pipeline 1
  EXPECT_NE(message(c).find("--rate"), std::string::npos) << message(c);
  c.pipeline = 8;
  EXPECT_EQ(message(c), "accepted");
  c = ok;
  c.measure = std::chrono::seconds(0);
  EXPECT_NE(message(c).find("--duration"), std::string::npos);
}

TEST(Sweep, DefaultGridIsTheIssuesFortyEightConfigurationsClientsFastest) {
  BenchConfig base;
  base.pipeline = 2;
  const auto configs = SweepGrid{}.expand(base);
  ASSERT_EQ(configs.size(), 3u * 4 * 2 * 2);
  EXPECT_EQ(configs[0].clients, 1u);
  EXPECT_EQ(configs[1].clients, 4u);
  EXPECT_EQ(configs[3].clients, 64u);
  EXPECT_EQ(configs[0].nodes, configs[3].nodes);
  EXPECT_EQ(configs[4].nodes, 3u);
  for (const auto& c : configs) EXPECT_EQ(c.pipeline, 2u);
  SweepGrid empty;
  empty.fsync.clear();
  EXPECT_THROW(empty.expand(base), std::invalid_argument);
}

std::vector<SweepPoint> sample_sweep() {
  std::vector<SweepPoint> points;
  SweepGrid grid;
  grid.nodes = {1, 3};
  grid.payload_bytes = {64};
  grid.fsync = {"none", "batch"};
  for (const BenchConfig& c : grid.expand(BenchConfig{})) {
    const uint64_t base = 500 * c.nodes * (c.fsync == "batch" ? 100 : 1) * (1 + c.clients / 8);
    points.push_back({c, result("shm", base, 100'000 * c.clients, 1.0)});
  }
  return points;
}

TEST(Sweep, CsvHasAHeaderAndOneRowPerConfiguration) {
  auto points = sample_sweep();
  points[0].config.fsync = "odd,\"name\"";  // quoted per RFC 4180
  points[1].result.node_cpu = CpuUsage{{}, {0.4, 0.1}, 1.0};
  std::ostringstream out;
  write_sweep_csv(out, points);
  std::istringstream lines(out.str());
  std::string line;
  std::vector<std::string> rows;
  while (std::getline(lines, line)) rows.push_back(line);
  ASSERT_EQ(rows.size(), points.size() + 1);
  EXPECT_EQ(rows[0].rfind("nodes,clients,pipeline,payload_bytes,fsync,", 0), 0u) << rows[0];
  const auto columns = [](const std::string& row) {
    std::size_t n = 1;
    bool quoted = false;
    for (char ch : row) {
      if (ch == '"') quoted = !quoted;
      if (ch == ',' && !quoted) ++n;
    }
    return n;
  };
  for (const auto& row : rows) EXPECT_EQ(columns(row), columns(rows[0])) << row;
  EXPECT_NE(rows[1].find("\"odd,\"\"name\"\"\""), std::string::npos) << rows[1];
  EXPECT_EQ(rows[2].rfind("1,4,1,64,none,adaptive,shm,,400000,1.000,400000.0,", 0), 0u) << rows[2];
}

TEST(Sweep, HtmlIsSelfContainedWithAPercentilePlotPerConfigurationAndAThroughputChart) {
  const auto points = sample_sweep();
  std::ostringstream out;
  write_sweep_html(out, points, "test <host>");
  const std::string html = out.str();
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("test &lt;host&gt;"), std::string::npos);
  // No script, stylesheet or image from anywhere else: the only URL is the SVG namespace.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  std::size_t urls = 0, svgs = 0, lines = 0;
  for (std::size_t at = 0; (at = html.find("http", at)) != std::string::npos; ++at) ++urls;
  for (std::size_t at = 0; (at = html.find("<svg xmlns", at)) != std::string::npos; ++at) ++svgs;
  for (std::size_t at = 0; (at = html.find("<polyline", at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(urls, svgs);
  // One throughput chart + one percentile plot per group of configurations differing only in clients
  // (4 groups), each scaling to the window's width.
  EXPECT_EQ(svgs, 1u + 4);
  EXPECT_EQ(html.find("<svg xmlns=\"http://www.w3.org/2000/svg\" width="), std::string::npos);
  EXPECT_NE(html.find("style=\"width:100%;height:auto"), std::string::npos);
  // One throughput line per group, one percentile curve per configuration, with the tail's nines on x.
  EXPECT_EQ(lines, 4u + points.size());
  for (const char* tick : {">50%<", ">90%<", ">99%<", ">99.9%<"})
    EXPECT_NE(html.find(tick), std::string::npos) << tick;
  EXPECT_NE(html.find("Throughput against clients"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

TEST(Sweep, HtmlOfNothingMeasuredStillOpens) {
  std::ostringstream out;
  write_sweep_html(out, {});
  EXPECT_NE(out.str().find("No configuration was measured"), std::string::npos);
}

}  // namespace
}  // namespace shmraft::bench
