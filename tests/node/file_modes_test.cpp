// Every file a node creates is 0600 and every directory 0700, whatever the umask it was started with.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "launcher/client/client.h"
#include "tests/node/test_cluster.h"

namespace shmraft::node::testing {
namespace {

using namespace std::chrono_literals;

// Restores the test process's umask when the test ends.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : previous_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(previous_); }

 private:
  mode_t previous_;
};

// "0600": octal, so a failure reads as a mode.
std::string mode_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + path.string());
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return text;
}

TEST(NodeFileModes, OwnerOnlyUnderAnOpenUmask) {
  TestCluster cluster(1, "modes");
  {
    const ScopedUmask open(0);  // the forked node inherits it
    cluster.start_all();
  }
  ASSERT_TRUE(cluster.wait_for_leader(20s)) << cluster.log_tail(1);
  client::Client c(cluster.name(), TestCluster::client_options());
  ASSERT_EQ(c.put("k", "v").status, client::Status::ok) << cluster.log_tail(1);
  ASSERT_EQ(cluster.stop(1), 0);

  const std::filesystem::path dir = cluster.data_dir(1);
  EXPECT_EQ(mode_of(dir), "0700");
  ASSERT_TRUE(std::filesystem::exists(dir / "node.log"));
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(mode_of(entry.path()), entry.is_directory() ? "0700" : "0600");
    files += entry.is_regular_file();
  }
  EXPECT_GE(files, 3u);  // node.log, meta, a log segment at least
}

}  // namespace
}  // namespace shmraft::node::testing
