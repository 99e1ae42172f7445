#pragma once
// A `shmraft bench` command line that must be refused before anything starts, as a test parameter.
#include <ostream>
#include <string>
#include <vector>

namespace shmraft::benchcmd_test {

struct BadInput {
  std::string name;  // of the test case
  std::vector<std::string> args;
  std::string names;  // what the one error line must mention
};

void PrintTo(const BadInput& input, std::ostream* out);

// Runs the bench with `input.args` and checks the refusal through gtest: one line on stderr that
// mentions `input.names`, nothing on stdout, nothing left behind. Returns the exit code.
int expect_refused(const BadInput& input);

}  // namespace shmraft::benchcmd_test
