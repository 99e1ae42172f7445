#include "tests/benchcmd/bench_checks.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace shmraft::benchcmd_test {

using nlohmann::json;

std::vector<std::string> quick(std::vector<std::string> extra) {
  std::vector<std::string> args{"--warmup",       "0.2",  "--duration", "1",
                                "--floor-rounds", "2000", "--progress", "0"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

json parse_json(const BenchOutput& run) {
  try {
    return json::parse(run.out);
  } catch (const json::exception& e) {
    ADD_FAILURE() << "stdout is not one JSON object (" << e.what() << ")\n" << run.describe();
    return json::object();
  }
}

void expect_sane_transport(const json& t, const std::string& what) {
  SCOPED_TRACE(what);
  for (const char* key : {"ops", "duration_s", "throughput_ops_per_s", "latency_us", "interrupted",
                          "phases_us", "failed_ops", "resent_ops", "node_exits"}) {
    EXPECT_TRUE(t.contains(key)) << "missing key " << key << " in " << t.dump();
  }
  if (!t.contains("latency_us")) return;
  EXPECT_GT(t["ops"].get<uint64_t>(), 0u);
  EXPECT_GT(t["duration_s"].get<double>(), 0);
  EXPECT_NEAR(t["throughput_ops_per_s"].get<double>(), t["ops"].get<double>() / t["duration_s"].get<double>(),
              1e-6 * t["throughput_ops_per_s"].get<double>());
  const json& l = t["latency_us"];
  EXPECT_GT(l["min"].get<double>(), 0);
  EXPECT_LE(l["min"].get<double>(), l["p50"].get<double>());
  EXPECT_LE(l["p50"].get<double>(), l["p90"].get<double>());
  EXPECT_LE(l["p90"].get<double>(), l["p99"].get<double>());
  EXPECT_LE(l["p99"].get<double>(), l["p999"].get<double>());
  EXPECT_LE(l["p999"].get<double>(), l["max"].get<double>());
  EXPECT_FALSE(t["interrupted"].get<bool>());
  EXPECT_TRUE(t["node_exits"].empty()) << t["node_exits"].dump();
  for (const char* phase : {"client_to_leader", "leader_persist", "replication", "apply_to_client"}) {
    ASSERT_TRUE(t["phases_us"].contains(phase)) << "missing phase " << phase;
    // Every phase is a part of the whole commit.
    EXPECT_LE(t["phases_us"][phase]["p50"].get<double>(), l["max"].get<double>()) << phase;
  }
}

json interrupt_and_expect_partial_report(BenchProcess& bench) {
  bench.signal(SIGINT);
  const BenchOutput run = bench.wait(std::chrono::seconds(20));
  EXPECT_EQ(run.exit_code, 130) << run.describe();
  const json j = parse_json(run);
  if (!j.contains("ops")) {
    ADD_FAILURE() << "no figures in\n" << run.out;
    return j;
  }
  EXPECT_TRUE(j["interrupted"].get<bool>());
  EXPECT_GT(j["ops"].get<uint64_t>(), 0u);
  EXPECT_LT(j["duration_s"].get<double>(), 60);
  return j;
}

}  // namespace shmraft::benchcmd_test
