#pragma once
// Directories and files that no other user of the host can read, replace or redirect — the standard the
// shared-memory segment already meets (0600, refuses another owner, a planted file or a symlink).
//
// A private directory is reached component by component from "/" with openat(O_NOFOLLOW), so what is
// checked is what is used:
//   - every ancestor is owned by root or by us, and is not writable by others unless sticky (/tmp): only
//     then can nobody else rename or replace what lies below it;
//   - a symlink among the ancestors is followed only if root or we own it (e.g. /home -> /data/home);
//   - the directory itself is owned by us, is not a symlink and not group/other-writable, and is made
//     0700 — also the ancestors this call created, whatever the umask.
// Files are opened with openat(O_NOFOLLOW) from the checked directory's descriptor and made 0600.
#include <filesystem>
#include <string>

namespace shmraft::launcher {

class PrivateDir {
 public:
  // Opens `path`, creating what is missing (0700). Throws LauncherError naming the component in the way.
  static PrivateDir open(const std::filesystem::path& path);

  PrivateDir(PrivateDir&& other) noexcept;
  PrivateDir& operator=(PrivateDir&& other) noexcept;
  ~PrivateDir();

  const std::filesystem::path& path() const noexcept { return path_; }
  int fd() const noexcept { return fd_; }

  // The directory `name` inside this one, created if missing, checked and made 0700 like open().
  PrivateDir subdir(const std::string& name) const;

  // Opens or creates the regular file `name` inside this one without following a symlink, checks that
  // we own it and makes it 0600. `flags` as for open(2) (O_CREAT, O_NOFOLLOW and O_CLOEXEC are added).
  // Throws LauncherError.
  int open_file(const std::string& name, int flags) const;

 private:
  PrivateDir(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace shmraft::launcher
