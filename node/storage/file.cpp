#include "node/storage/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "node/storage/flush_observer.h"
#include "node/storage/format.h"

namespace shmraft::storage {

namespace {

FlushObserver* observer = nullptr;

// Runs `flush` (which returns 0 or sets errno), telling the observer, if any, before and after.
template <typename Flush>
int observed(const FlushEvent& event, Flush flush) {
  if (observer == nullptr) return flush();
  observer->before_flush(event);
  const int rc = flush();
  const int error = errno;
  if (rc == 0) observer->after_flush(event);
  errno = error;
  return rc;
}

}  // namespace

void set_flush_observer(FlushObserver* new_observer) noexcept {
  observer = new_observer;
}

void throw_errno(std::string_view what, const std::filesystem::path& path, int error) {
  throw StorageError(std::string(what) + " " + path.string() + ": " + std::strerror(error));
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd open_file(const std::filesystem::path& path, int flags, unsigned mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) throw_errno("cannot open", path, errno);
  return UniqueFd(fd);
}

UniqueFd open_directory(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open directory", path, errno);
  return UniqueFd(fd);
}

void sync_file_data(int fd, const std::filesystem::path& path) {
  if (observed({FlushKind::file_data, path}, [fd] { return ::fdatasync(fd); }) != 0)
    throw_errno("fdatasync failed for", path, errno);
}

void sync_directory(const std::filesystem::path& dir) {
  UniqueFd fd = open_directory(dir);
  if (observed({FlushKind::directory, dir}, [&fd] { return ::fsync(fd.get()); }) != 0)
    throw_errno("fsync failed for directory", dir, errno);
}

void write_all_at(int fd, const void* data, std::size_t size, uint64_t offset,
                  const std::filesystem::path& path) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write", path, errno);
    }
    p += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

void write_file_atomically(const std::filesystem::path& path,
                           std::initializer_list<std::span<const std::byte>> parts) {
  const std::filesystem::path temporary = std::filesystem::path(path).concat(format::kTemporarySuffix);
  try {
    UniqueFd fd = open_file(temporary, O_WRONLY | O_CREAT | O_TRUNC);
    uint64_t offset = 0;
    for (std::span<const std::byte> part : parts) {
      write_all_at(fd.get(), part.data(), part.size(), offset, temporary);
      offset += part.size();
    }
    sync_file_data(fd.get(), temporary);
    if (::rename(temporary.c_str(), path.c_str()) != 0)
      throw_errno("cannot rename into place", temporary, errno);
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
  sync_directory(path.parent_path());
}

void read_all_at(int fd, void* data, std::size_t size, uint64_t offset, const std::filesystem::path& path) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read", path, errno);
    }
    if (n == 0)
      throw StorageError("unexpected end of file " + path.string() + " at offset " + std::to_string(offset));
    p += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

uint64_t file_size(int fd, const std::filesystem::path& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno("cannot stat", path, errno);
  return static_cast<uint64_t>(st.st_size);
}

void preallocate(int fd, uint64_t size, const std::filesystem::path& path) {
  int rc;
  do {
    rc = ::fallocate(fd, 0, 0, static_cast<off_t>(size));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    throw_errno("cannot preallocate " + std::to_string(size) + " bytes for", path, errno);
  }
}

std::vector<std::pair<uint64_t, uint64_t>> data_ranges(int fd, uint64_t from, uint64_t to) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  uint64_t pos = from;
  while (pos < to) {
    off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;     // only a hole from here on
      ranges.emplace_back(pos, to);  // SEEK_DATA unsupported: treat everything as data
      break;
    }
    if (static_cast<uint64_t>(data) >= to) break;
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    uint64_t end = hole < 0 ? to : std::min<uint64_t>(static_cast<uint64_t>(hole), to);
    ranges.emplace_back(static_cast<uint64_t>(data), end);
    pos = end;
  }
  return ranges;
}

Mapping::Mapping(int fd, std::size_t size, const std::filesystem::path& path) : size_(size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw_errno("cannot map", path, errno);
  data_ = static_cast<std::byte*>(p);
}

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Mapping::~Mapping() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

void Mapping::flush(std::size_t from, std::size_t to, const std::filesystem::path& path) const {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::size_t start = from & ~(page - 1);
  if (to <= start) return;
  if (observed({FlushKind::file_range, path, start, to},
               [&] { return ::msync(data_ + start, to - start, MS_SYNC); }) != 0)
    throw_errno("msync failed for", path, errno);
}

namespace {

std::mutex held_locks_mutex;
std::set<std::pair<dev_t, ino_t>> held_locks;  // the lock files this process holds

StorageError already_open(const std::filesystem::path& dir, const std::string& holder) {
  return StorageError("node directory " + dir.string() + " is already open in another process or NodeStorage (" +
                      holder + ")");
}

}  // namespace

DirectoryLock::DirectoryLock(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / format::kLockFileName;
  const std::lock_guard guard(held_locks_mutex);
  // Before opening: closing a second descriptor of a lock file this process holds would drop its lock.
  struct stat st {};
  if (::fstatat(AT_FDCWD, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      held_locks.contains({st.st_dev, st.st_ino})) {
    throw already_open(dir, "this process holds its lock file");
  }
  fd_ = UniqueFd(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd_.get() < 0) throw_errno("cannot open the lock file", path, errno);
  if (::fstat(fd_.get(), &st) != 0) throw_errno("cannot inspect", path, errno);
  if (!S_ISREG(st.st_mode)) throw StorageError("lock file " + path.string() + " is not a regular file");
  if ((st.st_mode & 07777) != 0600 && ::fchmod(fd_.get(), 0600) != 0) throw_errno("cannot chmod", path, errno);
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (::fcntl(fd_.get(), F_SETLK, &lock) != 0) {
    if (errno != EACCES && errno != EAGAIN) throw_errno("cannot lock", path, errno);
    struct flock holder = lock;
    if (::fcntl(fd_.get(), F_GETLK, &holder) == 0 && holder.l_type != F_UNLCK)
      throw already_open(dir, "process " + std::to_string(holder.l_pid) + " holds its lock file");
    throw already_open(dir, "its lock file is locked");
  }
  held_locks.emplace(st.st_dev, st.st_ino);
  device_ = st.st_dev;
  inode_ = st.st_ino;
}

DirectoryLock::~DirectoryLock() {
  const std::lock_guard guard(held_locks_mutex);
  held_locks.erase({device_, inode_});
  fd_ = UniqueFd();  // the close releases the record lock
}

}  // namespace shmraft::storage
