// The device-flush probe of `shmraft bench --fsync batch`: one copy or several flushed at once, a sample
// per round, its scratch files removed, and a clear error when its directory cannot hold them.
#include "launcher/bench/device_flush.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <system_error>

#include "tests/temp_dir.h"

namespace shmraft::bench {
namespace {

namespace fs = std::filesystem;

TEST(DeviceFlush, OneCopyAndAMajorityOfThreeRecordARoundEachAndLeaveNothing) {
  testing::TempDir dir("shmraft-flush-probe");
  for (const uint32_t copies : {1u, 3u}) {
    FlushSpec spec;
    spec.dir = dir.path() / "probe";
    spec.copies = copies;
    spec.rounds = 20;
    const FlushResult result = measure_device_flush(spec);
    EXPECT_EQ(result.latency.count(), 20u) << copies << " copies";
    EXPECT_GT(result.latency.min(), 0u);
    EXPECT_TRUE(fs::is_empty(spec.dir)) << "scratch files left in " << spec.dir;
  }
}

TEST(DeviceFlush, ADirectoryThatCannotBeCreatedIsAClearError) {
  testing::TempDir dir("shmraft-flush-probe");
  const fs::path file = dir.path() / "a-file";
  std::ofstream(file) << "not a directory";
  FlushSpec spec;
  spec.dir = file / "probe";
  spec.copies = 3;
  try {
    measure_device_flush(spec);
    FAIL() << "no error for a directory below a regular file";
  } catch (const std::system_error& error) {
    EXPECT_NE(std::string(error.what()).find("a-file"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace shmraft::bench
