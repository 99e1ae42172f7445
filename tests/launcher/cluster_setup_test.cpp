// unused_cluster_name: a run that names its own cluster steps over whatever an earlier process with the
// same pid left behind (a CI host reused /dev/shm across runs and a benchmark failed on such a leftover).
#include "launcher/cluster_setup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "tests/temp_dir.h"

namespace shmraft::launcher {
namespace {

namespace fs = std::filesystem;

std::string name_with_counter(const std::string& prefix, int counter) {
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter);
}

int counter_of(const std::string& name) {
  return std::stoi(name.substr(name.rfind('-') + 1));
}

TEST(ClusterSetup, UnusedNameStepsOverALeftSegmentAndALeftDataDirectory) {
  testing::TempDir base;
  const std::string first = unused_cluster_name("leftover", base.path());
  const int next = counter_of(first) + 1;
  EXPECT_EQ(first, name_with_counter("leftover", next - 1));

  // What an earlier process with this pid left: a segment of another build, then a data directory.
  const fs::path left_segment =
      fs::path("/dev/shm") / ipc::Segment::object_name(name_with_counter("leftover", next));
  std::ofstream(left_segment) << "a segment of layout version 3";
  fs::create_directory(base.path() / name_with_counter("leftover", next + 1));

  const std::string chosen = unused_cluster_name("leftover", base.path());
  fs::remove(left_segment);
  EXPECT_EQ(chosen, name_with_counter("leftover", next + 2));
  EXPECT_TRUE(fs::exists(base.path() / name_with_counter("leftover", next + 1))) << "nothing left is removed";
}

}  // namespace
}  // namespace shmraft::launcher
