#pragma once
// Small helpers of the launcher tests: a file's permission bits, and a scoped umask.
#include <sys/stat.h>

#include <filesystem>

namespace shmraft::testing {

// Permission bits (07777) of `path` itself (a symlink is not followed); 0 if it does not exist.
inline mode_t mode_of(const std::filesystem::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : previous_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(previous_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  mode_t previous_;
};

}  // namespace shmraft::testing
