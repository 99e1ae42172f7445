#include "tests/benchcmd/bad_input.h"

#include <gtest/gtest.h>

#include <sstream>

#include "tests/benchcmd/bench_process.h"

namespace shmraft::benchcmd_test {

void PrintTo(const BadInput& input, std::ostream* out) {
  *out << input.name;
}

int expect_refused(const BadInput& input) {
  BenchProcess bench(input.args);
  const BenchOutput run = bench.wait(std::chrono::seconds(20));
  std::size_t lines = 0;
  std::istringstream err(run.err);
  for (std::string line; std::getline(err, line);) lines += !line.empty();
  EXPECT_EQ(lines, 1u) << run.describe();
  EXPECT_NE(run.err.find(input.names), std::string::npos) << run.describe();
  EXPECT_TRUE(run.out.empty()) << run.describe();
  EXPECT_TRUE(leftovers_of(bench).empty());
  return run.exit_code;
}

}  // namespace shmraft::benchcmd_test
