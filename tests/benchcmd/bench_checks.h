#pragma once
// What the `shmraft bench` tests share: short runs, the JSON printed, and the checks every transport's
// figures must pass on any host.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/benchcmd/bench_process.h"

namespace shmraft::benchcmd_test {

// Short everything: 0.2 s warm-up, 1 s measured, small floors, no progress lines; then `extra`.
std::vector<std::string> quick(std::vector<std::string> extra);

// The one JSON object on stdout (a gtest failure and an empty object if it is not one).
nlohmann::json parse_json(const BenchOutput& run);

// The figures of one transport: ops counted, percentiles ordered, throughput consistent with both, every
// phase present and within the whole.
void expect_sane_transport(const nlohmann::json& t, const std::string& what);

// Ctrl-C to a bench run asked for --json and a 60 s window, then the checks every interrupted run must
// pass: exit 130 and the figures measured so far, marked interrupted. Returns the JSON.
nlohmann::json interrupt_and_expect_partial_report(BenchProcess& bench);

}  // namespace shmraft::benchcmd_test
