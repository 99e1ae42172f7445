// `shmraft bench` through the real binary: the JSON of DESIGN §5 with sane figures, --compare, the open
// loop, a tiny sweep, bad input refused before anything starts, and Ctrl-C mid-run. No timing assertions:
// the host is shared, so only what must hold on any machine is checked (ordering of percentiles, ops > 0,
// an open loop never sending more than its schedule, nothing left behind).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "tests/benchcmd/bad_input.h"
#include "tests/benchcmd/bench_checks.h"
#include "tests/benchcmd/bench_process.h"

namespace shmraft::benchcmd_test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TEST(BenchCommand, ShortRunPrintsTheJsonOfDesignSection5) {
  BenchProcess bench(quick({"--json"}));
  const BenchOutput run = bench.wait();
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  const json j = parse_json(run);
  for (const char* key :
       {"config", "ops", "duration_s", "throughput_ops_per_s", "latency_us", "floor", "floor_best",
        "p50_over_floor", "cpu", "peak_rss_bytes", "segment_bytes", "load_average", "host"}) {
    EXPECT_TRUE(j.contains(key)) << "missing key " << key << "\n" << run.out;
  }
  expect_sane_transport(j, "shm");
  EXPECT_EQ(j["config"]["nodes"], 3);
  EXPECT_EQ(j["config"]["clients"], 1);
  EXPECT_EQ(j["config"]["payload_bytes"], 64);
  EXPECT_EQ(j["config"]["fsync"], "none");
  EXPECT_EQ(j["config"]["wait"], "adaptive");
  EXPECT_EQ(j["config"]["loop"], "closed");
  // The 2- and 3-process rings and the run's own commit round, each with every strategy.
  ASSERT_EQ(j["floor"].size(), 3u * 4);
  EXPECT_EQ(j["floor"][0]["shape"], "ring");
  EXPECT_EQ(j["floor"][0]["processes"], 2);
  EXPECT_EQ(j["floor"][4]["processes"], 3);
  EXPECT_EQ(j["floor"][8]["shape"], "commit");
  std::set<std::string> waits;
  for (const json& f : j["floor"]) waits.insert(f["wait"].get<std::string>());
  EXPECT_EQ(waits, (std::set<std::string>{"spin-block", "yield", "block", "adaptive"}));
  // The floor compared with is the best commit round of as many processes as the run has: 3 nodes and
  // this benchmark process (its client threads).
  EXPECT_EQ(j["floor_best"]["shape"], "commit");
  EXPECT_EQ(j["floor_best"]["processes"].get<std::size_t>(), j["peak_rss_bytes"].size() + 1);
  double lowest = 1e300;
  for (const json& f : j["floor"])
    if (f["shape"] == "commit") lowest = std::min(lowest, f["latency_us"]["p50"].get<double>());
  EXPECT_DOUBLE_EQ(j["floor_best"]["p50_us"].get<double>(), lowest);
  EXPECT_NEAR(j["p50_over_floor"].get<double>(), j["latency_us"]["p50"].get<double>() / lowest,
              1e-9 * j["p50_over_floor"].get<double>());
  EXPECT_GT(j["host"]["cpus"].get<int>(), 0);
  EXPECT_GT(j["host"]["cache_line_round_trip_ns"].get<uint64_t>(), 0u);
  EXPECT_FALSE(j["host"]["kernel"].get<std::string>().empty());
  EXPECT_EQ(j["peak_rss_bytes"].size(), 3u);
  EXPECT_GT(j["segment_bytes"].get<uint64_t>(), 0u);
  EXPECT_GT(j["cpu"]["user_s"].get<double>() + j["cpu"]["system_s"].get<double>(), 0);
  EXPECT_TRUE(leftovers_of(bench).empty());
}

// Durable commits beside both flush floors: one device flush, and the nodes' copies flushed at once until
// a majority is durable.
TEST(BenchCommand, FsyncBatchReportsTheFlushOfOneCopyAndOfAMajority) {
  BenchProcess bench(quick({"--fsync", "batch", "--json"}));
  const BenchOutput run = bench.wait();
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  const json j = parse_json(run);
  expect_sane_transport(j, "shm");
  ASSERT_TRUE(j.contains("device_flush")) << run.out;
  const json& flush = j["device_flush"];
  EXPECT_GT(flush["rounds"].get<uint64_t>(), 0u);
  EXPECT_GT(flush["latency_us"]["p50"].get<double>(), 0);
  ASSERT_TRUE(flush.contains("majority")) << flush.dump();
  EXPECT_EQ(flush["majority"]["copies"], 3);
  EXPECT_GT(flush["majority"]["rounds"].get<uint64_t>(), 0u);
  EXPECT_GT(flush["majority"]["latency_us"]["p50"].get<double>(), 0);
  for (const char* key :
       {"p50_over_flush_plus_floor", "p50_over_majority_flush_plus_floor", "p50_over_persist_plus_floor"})
    EXPECT_GT(j.value(key, 0.0), 0) << "missing or zero " << key << "\n" << run.out;
  EXPECT_TRUE(leftovers_of(bench).empty());
}

TEST(BenchCommand, ManyLogicalClientsOnOneThreadReportReadsAndWritesApartWithTheirInFlightCount) {
  BenchProcess bench(quick({"--json", "--no-floor", "--clients", "48", "--client-threads", "1", "--pipeline",
                            "2", "--reads", "0.5", "--keys", "1000", "--key-dist", "zipfian"}));
  const BenchOutput run = bench.wait();
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  const json j = parse_json(run);
  expect_sane_transport(j, "shm");
  EXPECT_EQ(j["config"]["clients"], 48);
  EXPECT_EQ(j["config"]["client_threads"], 1);
  EXPECT_EQ(j["config"]["in_flight"], 96);
  EXPECT_EQ(j["config"]["key_dist"], "zipfian");
  ASSERT_TRUE(j.contains("operations")) << run.out;
  const uint64_t reads = j["operations"]["reads"]["ops"], writes = j["operations"]["writes"]["ops"];
  EXPECT_GT(reads, 0u);
  EXPECT_GT(writes, 0u);
  EXPECT_EQ(reads + writes, j["ops"].get<uint64_t>());
  // Half the operations are reads: far from both ends even over a short window.
  EXPECT_NEAR(static_cast<double>(reads) / static_cast<double>(reads + writes), 0.5, 0.1);
  EXPECT_GT(j["operations"]["reads"]["latency_us"]["p50"].get<double>(), 0);
  EXPECT_TRUE(leftovers_of(bench).empty());
}

TEST(BenchCommand, TextReportHasTheTableThePhasesAndTheFloor) {
  const BenchOutput run = run_bench(quick({"--nodes", "1", "--clients", "2", "--pipeline", "4"}));
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  for (const char* text : {"1 node, 2 clients × pipeline 4 (8 in flight", "8 operations in flight", "ops/s",
                           "p99.9", "phases (shm)", "replication", "physical floor", "commit  2 processes",
                           "p50 ÷ best floor", "host: ", "cpu (shm)", "peak RSS", "load average"}) {
    EXPECT_NE(run.out.find(text), std::string::npos) << "no '" << text << "' in\n" << run.out;
  }
}

TEST(BenchCommand, CompareRunsBothTransportsAndPrintsRatios) {
  BenchProcess bench(quick({"--compare", "--json", "--no-floor"}));
  const BenchOutput run = bench.wait();
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  const json j = parse_json(run);
  ASSERT_TRUE(j.contains("shm") && j.contains("tcp")) << run.out;
  expect_sane_transport(j["shm"], "shm");
  expect_sane_transport(j["tcp"], "tcp");
  for (const char* key : {"p50", "p90", "p99", "p999", "max", "throughput"}) {
    ASSERT_TRUE(j["ratio"].contains(key)) << "missing ratio " << key;
    EXPECT_GT(j["ratio"][key].get<double>(), 0) << key;
  }
  EXPECT_DOUBLE_EQ(j["ratio"]["p50"].get<double>(),
                   j["tcp"]["latency_us"]["p50"].get<double>() / j["shm"]["latency_us"]["p50"].get<double>());
  EXPECT_TRUE(leftovers_of(bench).empty());
}

TEST(BenchCommand, OpenLoopNeverSendsAheadOfItsSchedule) {
  const double rate = 2000, warmup = 0.2, duration = 1;
  const BenchOutput run = run_bench(quick({"--rate", "2000", "--clients", "2", "--json", "--no-floor"}));
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  const json j = parse_json(run);
  EXPECT_EQ(j["config"]["loop"], "open");
  EXPECT_EQ(j["config"]["rate_ops_per_s"].get<double>(), rate);
  expect_sane_transport(j, "open loop");
  // Completions in the window can only be operations due by its end (one per client of slack for rounding).
  EXPECT_LE(j["ops"].get<double>(), rate * (warmup + duration) + 2);
  // Every operation left after its intended send time: a sender that bursts ahead of the schedule would
  // show a zero here (the phase is clamped at zero), one sent on time shows the submit path's few ns.
  ASSERT_TRUE(j["phases_us"].contains("intended_to_sent"));
  EXPECT_GT(j["phases_us"]["intended_to_sent"]["min"].get<double>(), 0);
  ASSERT_TRUE(j.contains("rate_met"));
  EXPECT_EQ(j["rate_met"].get<bool>(), j["throughput_ops_per_s"].get<double>() >= 0.95 * rate);
}

// An open loop sends no more than its window (pipeline 1 here) holds, so it cannot beat the closed loop of
// the same shape: asked for ten times what a closed-loop run just measured on this host, the run says it
// missed on stderr and in the JSON instead of passing off a lighter load as the one asked for.
TEST(BenchCommand, OpenLoopThatMissesItsRateWarns) {
  const BenchOutput closed = run_bench(quick({"--json", "--no-floor"}));
  ASSERT_EQ(closed.exit_code, 0) << closed.describe();
  const double reachable = parse_json(closed)["throughput_ops_per_s"].get<double>();
  ASSERT_GT(reachable, 0);
  const double rate = 10 * reachable;
  const BenchOutput run =
      run_bench(quick({"--rate", std::to_string(static_cast<uint64_t>(rate)), "--json", "--no-floor"}));
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  const json j = parse_json(run);
  ASSERT_LT(j["throughput_ops_per_s"].get<double>(), 0.95 * rate)
      << "the open loop beat its closed loop tenfold";
  EXPECT_FALSE(j["rate_met"].get<bool>());
  EXPECT_NE(run.err.find("warning: the open loop did not keep its rate"), std::string::npos) << run.err;
}

TEST(BenchCommand, TinySweepWritesCsvAndSelfContainedHtml) {
  const fs::path out = fs::temp_directory_path() / ("benchcmd-sweep-" + std::to_string(getpid()));
  fs::remove_all(out);
  BenchProcess bench({"--sweep", "--sweep-nodes", "1", "--sweep-clients", "1,2", "--sweep-payload", "64",
                      "--sweep-fsync", "none", "--warmup", "0.1", "--duration", "0.3", "--no-floor",
                      "--progress", "0", "--out", out.string()});
  const BenchOutput run = bench.wait();
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  std::ifstream csv(out / "sweep.csv");
  std::vector<std::string> rows;
  for (std::string line; std::getline(csv, line);) rows.push_back(line);
  ASSERT_EQ(rows.size(), 3u) << "header + 2 configurations";
  EXPECT_TRUE(rows[0].starts_with("nodes,clients,")) << rows[0];
  EXPECT_TRUE(rows[1].starts_with("1,1,")) << rows[1];
  EXPECT_TRUE(rows[2].starts_with("1,2,")) << rows[2];
  std::ifstream html_in(out / "sweep.html");
  std::ostringstream html;
  html << html_in.rdbuf();
  EXPECT_NE(html.str().find("<svg"), std::string::npos);
  EXPECT_EQ(html.str().find("<script"), std::string::npos);
  EXPECT_EQ(html.str().find("http://"), html.str().find("http://www.w3.org"));  // only the SVG namespace
  EXPECT_NE(run.out.find("2 of 2 configurations"), std::string::npos) << run.out;
  EXPECT_TRUE(leftovers_of(bench).empty());
  fs::remove_all(out);
}

class BenchBadInput : public testing::TestWithParam<BadInput> {};

TEST_P(BenchBadInput, IsRefusedWithOneLineBeforeAnythingStarts) {
  EXPECT_EQ(expect_refused(GetParam()), 2) << "a usage error";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BenchBadInput,
    testing::Values(
        BadInput{"NoNodes", {"--nodes", "0"}, "--nodes"},
        BadInput{"NoClients", {"--clients", "0"}, "--clients"},
        BadInput{"PayloadLargerThanARingFrame", {"--payload", "1000000"}, "--payload"},
        BadInput{"UnknownTransport", {"--transport", "udp"}, "--transport"},
        BadInput{"UnknownFsync", {"--fsync", "sometimes"}, "--fsync"},
        BadInput{"UnknownWait", {"--wait", "busy"}, "--wait"},
        BadInput{"RateTheClientsCannotMeet", {"--rate", "50000000", "--clients", "2"}, "--rate"},
        BadInput{"NoPipeline", {"--pipeline", "0"}, "--pipeline"},
        BadInput{"CompareWithSweep", {"--compare", "--sweep"}, "--sweep"},
        BadInput{"SweepWithNoNodes", {"--sweep", "--sweep-nodes", "1,0"}, "--nodes"},
        BadInput{"ZeroDuration", {"--duration", "0"}, "--duration"},
        BadInput{"SpinOutOfRangeSaysTheRange",
                 {"--spin-us", "2000000"},
                 "must be from 0 to 1000000 (microseconds)"},
        BadInput{"MoreClientsThanSlots", {"--clients", "4097"}, "--clients"},
        BadInput{"MoreThreadsThanClients", {"--clients", "4", "--client-threads", "8"}, "--client-threads"},
        BadInput{"ReadsWithAnEmptyKeySpace", {"--reads", "0.5", "--keys", "0"}, "--keys 0"},
        BadInput{"ReadsOutsideAFraction", {"--reads", "1.5"}, "--reads"},
        BadInput{"UnknownKeyDistribution", {"--keys", "100", "--key-dist", "pareto"}, "--key-dist"},
        BadInput{"KeyDistributionWithoutKeys", {"--key-dist", "zipfian"}, "--keys"},
        BadInput{"SharedThreadsOverTcp",
                 {"--transport", "tcp", "--clients", "4", "--client-threads", "1"},
                 "--client-threads"},
        BadInput{"InLeaderOverTcp", {"--in-leader", "--transport", "tcp"}, "--transport tcp"},
        BadInput{"InLeaderWithCompare", {"--in-leader", "--compare"}, "--compare"},
        BadInput{"InLeaderWithFailover", {"--in-leader", "--failover"}, "--failover"},
        BadInput{"InLeaderWithReconfigure", {"--in-leader", "--reconfigure", "add"}, "--reconfigure"},
        BadInput{"InLeaderOnARunningCluster", {"--in-leader", "--cluster", "somewhere"}, "--cluster"},
        BadInput{"RealtimeThatNeverSleeps", {"--realtime", "--wait", "spin"}, "--realtime"},
        BadInput{"UnknownFlag", {"--no-such-flag"}, "--no-such-flag"}),
    [](const testing::TestParamInfo<BadInput>& info) { return info.param.name; });

TEST(BenchCommand, CtrlCMidRunPrintsWhatWasMeasuredAndLeavesNothingBehind) {
  BenchProcess bench({"--warmup", "0.2", "--duration", "60", "--json", "--no-floor", "--progress", "0.2"});
  // Wait until the measured window has run a little (progress lines say so), then interrupt.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (bench.stderr_so_far().find("measure") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_NE(bench.stderr_so_far().find("measure"), std::string::npos)
      << "the measured window never started:\n"
      << bench.stderr_so_far();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const json j = interrupt_and_expect_partial_report(bench);
  // The nodes outlive the interrupt (only the command stops them), so the report is complete.
  for (const char* key : {"cpu", "peak_rss_bytes", "sleeps_per_op"}) EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_TRUE(j["node_exits"].empty()) << j.dump();
  EXPECT_TRUE(leftovers_of(bench).empty()) << testing::PrintToString(leftovers_of(bench));
}

}  // namespace
}  // namespace shmraft::benchcmd_test
