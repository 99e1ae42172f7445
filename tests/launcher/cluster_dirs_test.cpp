// ClusterDirs: where the default data root lies, the modes of what it creates whatever the umask, and
// the refusal of a data root nested inside, or holding, another cluster's node directory.
#include "launcher/cluster_dirs.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "launcher/launcher_error.h"
#include "tests/launcher/file_modes.h"
#include "tests/launcher/second_user.h"
#include "tests/temp_dir.h"

namespace shmraft::launcher {
namespace {

namespace fs = std::filesystem;
using testing::mode_of;
using testing::TempDir;

std::string check_root_refusal(const ClusterDirs& dirs) {
  try {
    dirs.check_root();
  } catch (const LauncherError& e) {
    return e.what();
  }
  return {};
}

TEST(ClusterDirs, StampsPrivatelyUnderUmask000) {
  TempDir tmp;
  testing::ScopedUmask everything_allowed(0);
  const ClusterDirs dirs("a", tmp.path() / "a");
  dirs.check_root();
  dirs.stamp(3, ipc::ClusterId::random());
  EXPECT_EQ(mode_of(dirs.root()), 0700u);
  for (uint32_t node = 1; node <= 3; ++node) {
    EXPECT_EQ(dirs.node_dir(node), dirs.root() / ("node" + std::to_string(node)));
    EXPECT_EQ(mode_of(dirs.node_dir(node)), 0700u);
    EXPECT_EQ(mode_of(dirs.node_dir(node) / "cluster-id"), 0600u);
  }
}

TEST(ClusterDirs, RefusesARootInsideANodeDirectoryAndCreatesNothingThere) {
  TempDir tmp;
  const ClusterDirs a("a", tmp.path() / "a");
  a.check_root();
  a.stamp(3, ipc::ClusterId::random());
  const ClusterDirs nested("b", a.node_dir(1) / "log");
  const std::string why = check_root_refusal(nested);
  EXPECT_NE(why.find("lies inside " + a.node_dir(1).string() + ", a node directory of cluster 'a'"),
            std::string::npos)
      << why;
  EXPECT_FALSE(fs::exists(a.node_dir(1) / "log"));
  EXPECT_NE(check_root_refusal(ClusterDirs("a", a.node_dir(2))).find("lies inside"), std::string::npos);
}

TEST(ClusterDirs, RefusesARootHoldingAnotherClustersNodeDirectory) {
  TempDir tmp;
  const ClusterDirs a("a", tmp.path() / "clusters" / "a");
  a.check_root();
  a.stamp(5, ipc::ClusterId::random());
  for (const fs::path& holder : {tmp.path(), tmp.path() / "clusters"}) {
    const std::string why = check_root_refusal(ClusterDirs("b", holder));
    EXPECT_NE(why.find("holds " + (a.root() / "node").string()), std::string::npos) << holder << ": " << why;
  }
  // The same root under another cluster name, or a cluster of 3 where node3 and node4 are another's.
  EXPECT_NE(check_root_refusal(ClusterDirs("b", a.root())).find("cluster 'a'"), std::string::npos);
  EXPECT_EQ(check_root_refusal(a), "");  // its own root, again: fine
}

// Nodes are numbered 1..N; a node0 was written by a build that numbered them from 0 (node<i> then held
// Raft id i+1): refused by name rather than started as a stranger beside node1.
TEST(ClusterDirs, RefusesANodeZeroDirectoryOfTheOldNumbering) {
  TempDir tmp;
  const ClusterDirs a("a", tmp.path() / "a");
  a.check_root();
  a.stamp(3, ipc::ClusterId::random());
  fs::rename(a.node_dir(3), a.root() / "node0");
  const std::string why = check_root_refusal(a);
  EXPECT_NE(why.find("holds node0, written by a shmraft that numbered nodes from 0"), std::string::npos)
      << why;
  EXPECT_NE(why.find("rename each node<i> to node<i+1>"), std::string::npos) << why;
}

TEST(ClusterDirs, CheckingCreatesNothingAndRefusesASymlinkedRoot) {
  TempDir tmp;
  EXPECT_EQ(check_root_refusal(ClusterDirs("a", tmp.path() / "a")), "");
  EXPECT_FALSE(fs::exists(tmp.path() / "a"));
  fs::create_directory(tmp.path() / "real");
  fs::create_directory_symlink(tmp.path() / "real", tmp.path() / "link");
  EXPECT_NE(check_root_refusal(ClusterDirs("a", tmp.path() / "link")).find("is a symlink"),
            std::string::npos);
}

TEST(ClusterDirs, DefaultRootIsPerUserOnADiskAndNeverTmp) {
  if (::geteuid() == 0) {
    EXPECT_EQ(default_data_base(), fs::path("/var/lib/shmraft"));
    EXPECT_EQ(ClusterDirs("x", {}).root(), fs::path("/var/lib/shmraft/x"));
  }
  std::string why_not;
  if (!testing::SecondUser::available(why_not)) GTEST_SKIP() << "the non-root rules: " << why_not;
  testing::SecondUser user;
  EXPECT_TRUE(user.run_as([] {
    ::setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);  // a tmpfs: never the default
    ::setenv("HOME", "/home/someone", 1);
    ::setenv("XDG_STATE_HOME", "/srv/state", 1);
    const bool xdg = default_data_base() == "/srv/state/shmraft";
    ::setenv("XDG_STATE_HOME", "relative", 1);  // not absolute: ignored, as the XDG spec says
    const bool relative_ignored = default_data_base() == "/home/someone/.local/state/shmraft";
    ::unsetenv("XDG_STATE_HOME");
    const bool home = default_data_base() == "/home/someone/.local/state/shmraft";
    return xdg && relative_ignored && home;
  }));
}

}  // namespace
}  // namespace shmraft::launcher
