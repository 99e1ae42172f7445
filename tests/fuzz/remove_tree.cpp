#include "tests/fuzz/remove_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace shmraft::fuzz {

namespace {

[[noreturn]] void fail(const char* what, const char* name) {
  throw std::system_error(errno, std::generic_category(), std::string(what) + " " + name);
}

void remove_entry(int parent_fd, const char* name);

// Removes what the directory open as `dir_fd` lists, in one pass.
void remove_listed(int dir_fd, const char* name) {
  alignas(dirent64) char buffer[4096];
  ssize_t n;
  while ((n = ::getdents64(dir_fd, buffer, sizeof buffer)) > 0) {
    for (ssize_t offset = 0; offset < n;) {
      const auto* entry = reinterpret_cast<const dirent64*>(buffer + offset);
      offset += entry->d_reclen;
      if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0)
        remove_entry(dir_fd, entry->d_name);
    }
  }
  if (n < 0) fail("cannot list", name);
}

// Unlinking entries while the directory is being read may make the listing skip some: then the rmdir
// finds it not empty, and it is listed again.
void remove_directory(int parent_fd, const char* name) {
  for (;;) {
    const int dir_fd = ::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir_fd < 0) fail("cannot open directory", name);
    try {
      remove_listed(dir_fd, name);
    } catch (...) {
      ::close(dir_fd);
      throw;
    }
    ::close(dir_fd);
    if (::unlinkat(parent_fd, name, AT_REMOVEDIR) == 0) return;
    if (errno != ENOTEMPTY) fail("cannot remove directory", name);
  }
}

void remove_entry(int parent_fd, const char* name) {
  if (::unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT) return;
  if (errno != EISDIR) fail("cannot remove", name);
  remove_directory(parent_fd, name);
}

}  // namespace

void remove_tree(const std::filesystem::path& dir) {
  remove_entry(AT_FDCWD, dir.c_str());
}

}  // namespace shmraft::fuzz
