#include "launcher/private_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "launcher/launcher_error.h"

namespace shmraft::launcher {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void refuse(const fs::path& path, const std::string& why) {
  throw LauncherError(path.string() + ": " + why);
}

[[noreturn]] void refuse_errno(const fs::path& path, const std::string& doing) {
  refuse(path, doing + ": " + std::strerror(errno));
}

bool trusted_owner(uid_t uid) {
  return uid == 0 || uid == ::geteuid();
}

std::string owner_text(uid_t uid) {
  return "owned by uid " + std::to_string(uid) + " (we are uid " + std::to_string(::geteuid()) + ")";
}

// An ancestor may be shared (/, /tmp, /home) but nobody else may rename or replace what is below it.
void check_ancestor(const struct stat& st, const fs::path& path) {
  if (!trusted_owner(st.st_uid))
    refuse(path, owner_text(st.st_uid) + ": another user could replace what is inside it");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0)
    refuse(path, "writable by group or others and not sticky: another user could replace what is inside it");
}

void check_own(const struct stat& st, const fs::path& path) {
  if (st.st_uid != ::geteuid()) refuse(path, owner_text(st.st_uid) + ", not by us: refused");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    refuse(path, "writable by group or others: refused (chmod go-w, or pick another directory)");
}

// The directory `name` inside `parent_fd`, created 0700 when missing; a symlink only where `follow`.
// Returns the open descriptor, whether it was created, and its stat.
struct Opened {
  int fd = -1;
  bool created = false;
  struct stat st {};
};

Opened open_component(int parent_fd, const std::string& name, const fs::path& path,
                      bool follow_trusted_link) {
  Opened result;
  if (::fstatat(parent_fd, name.c_str(), &result.st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) refuse_errno(path, "cannot inspect");
    if (::mkdirat(parent_fd, name.c_str(), 0700) == 0) {
      result.created = true;
    } else if (errno != EEXIST) {
      refuse_errno(path, "cannot create");
    }
    if (::fstatat(parent_fd, name.c_str(), &result.st, AT_SYMLINK_NOFOLLOW) != 0)
      refuse_errno(path, "cannot inspect");
  }
  int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  if (S_ISLNK(result.st.st_mode)) {
    if (!follow_trusted_link) refuse(path, "is a symlink; a data directory must be a real directory");
    if (!trusted_owner(result.st.st_uid)) refuse(path, "is a symlink " + owner_text(result.st.st_uid));
  } else if (S_ISDIR(result.st.st_mode)) {
    flags |= O_NOFOLLOW;
  } else {
    refuse(path, "exists and is not a directory");
  }
  result.fd = ::openat(parent_fd, name.c_str(), flags);
  if (result.fd < 0) refuse_errno(path, "cannot open");
  if (::fstat(result.fd, &result.st) != 0) {
    const int saved = errno;
    ::close(result.fd);
    errno = saved;
    refuse_errno(path, "cannot inspect");
  }
  return result;
}

// Closes `fd` if the check throws.
template <class Check>
void checked(int fd, Check&& check) {
  try {
    check();
  } catch (...) {
    ::close(fd);
    throw;
  }
}

void make_private(int fd, struct stat& st, const fs::path& path) {
  if (::fchmod(fd, 0700) != 0) refuse_errno(path, "cannot chmod 0700");
  st.st_mode = (st.st_mode & ~07777) | 0700;
}

}  // namespace

PrivateDir PrivateDir::open(const fs::path& requested) {
  const fs::path path = fs::absolute(requested).lexically_normal();
  std::vector<std::string> parts;
  for (const fs::path& part : path.relative_path()) {
    if (!part.empty() && part != ".") parts.push_back(part.string());
  }
  if (parts.empty()) refuse(path, "the root directory cannot be a data directory");
  int fd = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) refuse_errno("/", "cannot open");
  fs::path at = "/";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    at /= parts[i];
    const bool last = i + 1 == parts.size();
    Opened next;
    checked(fd, [&] { next = open_component(fd, parts[i], at, !last); });
    ::close(fd);
    fd = next.fd;
    checked(fd, [&] {
      if (next.created) make_private(fd, next.st, at);
      if (last) {
        check_own(next.st, at);
      } else {
        check_ancestor(next.st, at);
      }
    });
  }
  return PrivateDir(path, fd);
}

PrivateDir::PrivateDir(PrivateDir&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

PrivateDir& PrivateDir::operator=(PrivateDir&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

PrivateDir::~PrivateDir() {
  if (fd_ >= 0) ::close(fd_);
}

PrivateDir PrivateDir::subdir(const std::string& name) const {
  const fs::path at = path_ / name;
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    refuse(at, "not a plain directory name");
  Opened opened = open_component(fd_, name, at, false);
  checked(opened.fd, [&] {
    check_own(opened.st, at);
    make_private(opened.fd, opened.st, at);
  });
  return PrivateDir(at, opened.fd);
}

int PrivateDir::open_file(const std::string& name, int flags) const {
  const fs::path at = path_ / name;
  const int fd = ::openat(fd_, name.c_str(), flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ELOOP) refuse(at, "is a symlink; refused");
  if (fd < 0) refuse_errno(at, "cannot open");
  checked(fd, [&] {
    struct stat st {};
    if (::fstat(fd, &st) != 0) refuse_errno(at, "cannot inspect");
    if (!S_ISREG(st.st_mode)) refuse(at, "is not a regular file; refused");
    if (st.st_uid != ::geteuid()) refuse(at, owner_text(st.st_uid) + ", not by us: refused");
    if (::fchmod(fd, 0600) != 0) refuse_errno(at, "cannot chmod 0600");
  });
  return fd;
}

}  // namespace shmraft::launcher
