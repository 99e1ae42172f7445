// Files and directories of a real cluster (issue 15): 0700/0600 whatever the umask — the supervisor's
// nodeN.out, the stamps and what the node processes create — and a data root that another user planted
// is refused before anything is created in it.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "launcher/child_process.h"
#include "tests/cluster/harness.h"
#include "tests/launcher/file_modes.h"
#include "tests/launcher/second_user.h"
#include "tests/temp_dir.h"

namespace shmraft::cluster_test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::mode_of;

TEST(Files, EveryDirectoryIs0700AndEveryFile0600UnderUmask000) {
  const std::string name = unique_cluster_name("umask");
  const fs::path root = fs::path("/tmp/shmraft") / name;  // created by `up` itself, under umask 000
  ScopedClusterFiles cleanup{name, root};
  fs::create_directories(root.parent_path());
  {
    testing::ScopedUmask everything_allowed(0);
    cleanup.process = launcher::spawn_child({SHMRAFT_BINARY, "up", "-c", name, "-d", root.string()},
                                            root.string() + ".log");
  }
  EXPECT_EQ(mode_of(root.string() + ".log"), 0600u);
  ASSERT_TRUE(eventually(
      [&] {
        return run_shmraft({"kv", "-c", name, "put", "k", "v"}).exit_code == 0;
      },
      20s))
      << read_file(root.string() + ".log");
  // A restart appends to node1.out again through the supervisor that runs under umask 000.
  const CommandResult restart = run_shmraft({"restart", "-c", name, "1"});
  ASSERT_EQ(restart.exit_code, 0) << restart.describe();
  ASSERT_EQ(run_shmraft({"kv", "-c", name, "put", "k2", "v2"}).exit_code, 0);

  std::vector<std::string> offenders;
  std::size_t files = 0;
  const auto check = [&](const fs::path& path, bool directory) {
    const mode_t expected = directory ? 0700 : 0600;
    if (mode_of(path) != expected) {
      std::ostringstream line;
      line << std::oct << mode_of(path) << " " << path.string();
      offenders.push_back(line.str());
    }
  };
  check(root, true);
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const bool directory = entry.is_directory();
    files += !directory;
    check(entry.path(), directory);
  }
  EXPECT_GE(files, 3 + 3 + 3u) << "nodeN.out, stamps and the nodes' own files";
  EXPECT_TRUE(offenders.empty()) << ::testing::PrintToString(offenders);
}

// Issue 15's attack: another user creates the shared directory first and plants NAME -> their dir.
TEST(Files, UpRefusesADataRootAnotherUserPlanted) {
  std::string why_not;
  if (!testing::SecondUser::available(why_not)) GTEST_SKIP() << why_not;
  testing::SecondUser other;
  testing::TempDir tmp;
  fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  const fs::path shared = tmp.path() / "tmp";  // like /tmp: world-writable and sticky
  fs::create_directory(shared);
  fs::permissions(shared, fs::perms::all | fs::perms::sticky_bit);
  const std::string name = unique_cluster_name("planted");
  const fs::path theirs = shared / "theirs";
  ASSERT_TRUE(other.run_as([&] {
    fs::create_directories(theirs);
    fs::create_directory(shared / "shmraft");
    fs::create_directory_symlink(theirs, shared / "shmraft" / name);
    return true;
  }));
  ScopedClusterFiles cleanup{name, {}};
  const CommandResult r = run_shmraft({"up", "-c", name, "-d", (shared / "shmraft" / name).string()}, 30s);
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_EQ(line_count(r.err), 1u) << r.describe();
  EXPECT_NE(r.err.find("owned by uid " + std::to_string(other.uid())), std::string::npos) << r.describe();
  EXPECT_TRUE(fs::is_empty(theirs)) << "something was created in the other user's directory";
  EXPECT_FALSE(segment_exists(name));
}

}  // namespace
}  // namespace shmraft::cluster_test
