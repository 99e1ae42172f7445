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

void remove_entry(int parent_fd, const char* name, unsigned char type);

// Removes what one listing of the directory open as `dir_fd` shows.
void remove_listed(int dir_fd, const char* name) {
  alignas(dirent64) char buffer[4096];
  const ssize_t n = ::getdents64(dir_fd, buffer, sizeof buffer);
  if (n < 0) fail("cannot list", name);
  for (ssize_t offset = 0; offset < n;) {
    const auto* entry = reinterpret_cast<const dirent64*>(buffer + offset);
    offset += entry->d_reclen;
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0)
      remove_entry(dir_fd, entry->d_name, entry->d_type);
  }
}

// One listing per pass, not a listing to its end: what a listing leaves out (more entries than its
// buffer holds, or entries skipped because others were unlinked meanwhile) makes the rmdir find the
// directory not empty, and it is listed again. A directory that is gone is removed already.
void remove_directory(int parent_fd, const char* name) {
  for (;;) {
    const int dir_fd = ::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir_fd < 0) {
      if (errno == ENOENT) return;
      fail("cannot open directory", name);
    }
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

// The listing says which entries are directories (d_type), which spares an unlink that fails; where it
// cannot tell (DT_UNKNOWN), that unlink's EISDIR does.
void remove_entry(int parent_fd, const char* name, unsigned char type) {
  if (type != DT_DIR) {
    if (::unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT) return;
    if (errno != EISDIR) fail("cannot remove", name);
  }
  remove_directory(parent_fd, name);
}

}  // namespace

void remove_tree(const std::filesystem::path& dir) {
  remove_directory(AT_FDCWD, dir.c_str());
}

}  // namespace shmraft::fuzz
