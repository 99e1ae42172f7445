// PrivateDir: what it creates is 0700/0600 whatever the umask, and it refuses — following nothing — a
// symlink, a directory others can write, and anything a second user of the host planted.
#include "launcher/private_dir.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "launcher/launcher_error.h"
#include "tests/launcher/file_modes.h"
#include "tests/launcher/second_user.h"
#include "tests/temp_dir.h"

namespace shmraft::launcher {
namespace {

namespace fs = std::filesystem;
using testing::mode_of;
using testing::ScopedUmask;
using testing::SecondUser;
using testing::TempDir;

// The LauncherError message of `action`, "" if it did not throw one.
template <class Action>
std::string refusal(Action&& action) {
  try {
    action();
  } catch (const LauncherError& e) {
    return e.what();
  }
  return {};
}

std::string contents(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST(PrivateDir, CreatesDirectories0700AndFiles0600UnderUmask000) {
  TempDir tmp;
  ScopedUmask everything_allowed(0);
  const PrivateDir dir = PrivateDir::open(tmp.path() / "a" / "b" / "c");
  EXPECT_EQ(mode_of(tmp.path() / "a"), 0700u);
  EXPECT_EQ(mode_of(tmp.path() / "a" / "b"), 0700u);
  EXPECT_EQ(mode_of(tmp.path() / "a" / "b" / "c"), 0700u);
  const PrivateDir node = dir.subdir("node1");
  EXPECT_EQ(mode_of(node.path()), 0700u);
  ::close(node.open_file("node1.out", O_WRONLY | O_APPEND));
  EXPECT_EQ(mode_of(node.path() / "node1.out"), 0600u);
}

TEST(PrivateDir, TightensAFileAndANodeDirectoryLeftWithLooserModes) {
  TempDir tmp;
  const PrivateDir dir = PrivateDir::open(tmp.path() / "root");
  write(dir.path() / "out", "before\n");
  fs::permissions(dir.path() / "out", fs::perms::all);
  fs::create_directory(dir.path() / "node1");
  fs::permissions(dir.path() / "node1",
                  fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  ::close(dir.open_file("out", O_WRONLY | O_APPEND));
  dir.subdir("node1");
  EXPECT_EQ(mode_of(dir.path() / "out"), 0600u);
  EXPECT_EQ(mode_of(dir.path() / "node1"), 0700u);
  EXPECT_EQ(contents(dir.path() / "out"), "before\n");
}

TEST(PrivateDir, RefusesASymlinkAsTheDirectoryAndCreatesNothingWhereItPoints) {
  TempDir tmp;
  fs::create_directory(tmp.path() / "elsewhere");
  fs::create_directory_symlink(tmp.path() / "elsewhere", tmp.path() / "link");
  const std::string why = refusal([&] { PrivateDir::open(tmp.path() / "link"); });
  EXPECT_NE(why.find("is a symlink"), std::string::npos) << why;
  EXPECT_NE(why.find((tmp.path() / "link").string()), std::string::npos) << why;
  const std::string why_sub = refusal([&] { PrivateDir::open(tmp.path()).subdir("link"); });
  EXPECT_NE(why_sub.find("is a symlink"), std::string::npos) << why_sub;
  EXPECT_TRUE(fs::is_empty(tmp.path() / "elsewhere"));
}

TEST(PrivateDir, RefusesASymlinkedFileAndLeavesItsTargetAlone) {
  TempDir tmp;
  const PrivateDir dir = PrivateDir::open(tmp.path() / "root");
  write(tmp.path() / "precious", "precious\n");
  fs::permissions(tmp.path() / "precious", fs::perms::owner_read | fs::perms::owner_write);
  fs::create_symlink(tmp.path() / "precious", dir.path() / "node1.out");
  const std::string why = refusal([&] { dir.open_file("node1.out", O_WRONLY | O_APPEND); });
  EXPECT_NE(why.find("is a symlink"), std::string::npos) << why;
  EXPECT_EQ(contents(tmp.path() / "precious"), "precious\n");
}

TEST(PrivateDir, RefusesDirectoriesOthersCanWrite) {
  TempDir tmp;
  fs::create_directory(tmp.path() / "open");
  fs::permissions(tmp.path() / "open", fs::perms::all);
  const std::string itself = refusal([&] { PrivateDir::open(tmp.path() / "open"); });
  EXPECT_NE(itself.find("writable by group or others"), std::string::npos) << itself;
  const std::string below = refusal([&] { PrivateDir::open(tmp.path() / "open" / "data"); });
  EXPECT_NE(below.find("writable by group or others and not sticky"), std::string::npos) << below;
  EXPECT_FALSE(fs::exists(tmp.path() / "open" / "data"));
}

TEST(PrivateDir, RefusesAFileWhereADirectoryBelongsAndTheRootDirectory) {
  TempDir tmp;
  write(tmp.path() / "file", "");
  EXPECT_NE(refusal([&] { PrivateDir::open(tmp.path() / "file"); }).find("not a directory"),
            std::string::npos);
  EXPECT_NE(refusal([&] { PrivateDir::open("/"); }).find("root directory"), std::string::npos);
}

// The /tmp attack of issue 15: another user creates the shared directory first and plants links in it.
TEST(PrivateDirSecondUser, FollowsNothingAnotherUserPlanted) {
  std::string why_not;
  if (!SecondUser::available(why_not)) GTEST_SKIP() << why_not;
  SecondUser other;
  TempDir tmp;
  fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  const fs::path shared = tmp.path() / "shared";  // like /tmp: world-writable and sticky
  fs::create_directory(shared);
  fs::permissions(shared, fs::perms::all | fs::perms::sticky_bit);
  const fs::path theirs = shared / "theirs";
  ASSERT_TRUE(other.run_as([&] {
    fs::create_directories(theirs);
    fs::create_directory(shared / "shmraft");
    fs::create_directory_symlink(theirs, shared / "shmraft" / "main");
    fs::create_directory_symlink(theirs, shared / "link");
    fs::create_directory(shared / "their-root");
    return true;
  }));
  const std::string uid = "owned by uid " + std::to_string(other.uid());

  const std::string via_their_dir = refusal([&] { PrivateDir::open(shared / "shmraft" / "main"); });
  EXPECT_NE(via_their_dir.find(uid), std::string::npos) << via_their_dir;
  const std::string their_link = refusal([&] { PrivateDir::open(shared / "link" / "data"); });
  EXPECT_NE(their_link.find("is a symlink " + uid), std::string::npos) << their_link;
  const std::string their_root = refusal([&] { PrivateDir::open(shared / "their-root"); });
  EXPECT_NE(their_root.find(uid), std::string::npos) << their_root;
  EXPECT_NE(their_root.find("not by us: refused"), std::string::npos) << their_root;
  EXPECT_TRUE(fs::is_empty(theirs));

  // What we create in the shared directory is ours and closed: they cannot plant anything in it.
  const PrivateDir ours = PrivateDir::open(shared / "ours");
  EXPECT_EQ(mode_of(ours.path()), 0700u);
  EXPECT_FALSE(other.run_as([&] {
    std::error_code ec;
    fs::create_symlink(theirs, ours.path() / "node1.out", ec);
    return !ec;
  }));
}

}  // namespace
}  // namespace shmraft::launcher
