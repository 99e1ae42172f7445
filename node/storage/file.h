#pragma once
// Thin RAII wrappers over the POSIX calls the storage makes, each failure turned into a StorageError that
// names the operation, the path and errno's text. Every file is created with mode 0600.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "node/storage/storage_error.h"

namespace shmraft::storage {

[[noreturn]] void throw_errno(std::string_view what, const std::filesystem::path& path, int error);

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// open(2) with O_CLOEXEC added; throws on failure.
UniqueFd open_file(const std::filesystem::path& path, int flags, unsigned mode = 0600);
UniqueFd open_directory(const std::filesystem::path& path);

// fdatasync(2) / fsync(2) of a directory, so that names created, renamed or removed in it are durable.
void sync_file_data(int fd, const std::filesystem::path& path);
void sync_directory(const std::filesystem::path& dir);

void write_all_at(int fd, const void* data, std::size_t size, uint64_t offset,
                  const std::filesystem::path& path);

// Replaces `path` with the concatenation of `parts` so that a crash leaves either the old file or the
// whole new one: write a temporary file beside it, fdatasync it, rename it into place, fsync the
// directory. A failure removes the temporary file and leaves `path` as it was. Costs two flushes.
void write_file_atomically(const std::filesystem::path& path,
                           std::initializer_list<std::span<const std::byte>> parts);
// Reads exactly `size` bytes; a short file is an error that names the path.
void read_all_at(int fd, void* data, std::size_t size, uint64_t offset, const std::filesystem::path& path);
uint64_t file_size(int fd, const std::filesystem::path& path);

// Reserves the blocks of [0, size) with fallocate(2): no data is written, so the pages a later mmap
// dirties are written back 4 KiB at a time (pre-zeroing with write(2) instead leaves large page-cache
// folios behind, and a 64-byte msync then writes a whole folio — 1 MiB here). A full disk (ENOSPC) or a
// file-size limit (EFBIG) surfaces as StorageError.
void preallocate(int fd, uint64_t size, const std::filesystem::path& path);

// The byte ranges of [from, to) that may hold data; everything else is a hole (or unwritten extent) and
// reads as zeros, so scans can skip it without faulting pages in. Falls back to the whole range where
// SEEK_DATA is unsupported.
std::vector<std::pair<uint64_t, uint64_t>> data_ranges(int fd, uint64_t from, uint64_t to);

// A shared read-write mapping of a whole file.
class Mapping {
 public:
  Mapping() = default;
  Mapping(int fd, std::size_t size, const std::filesystem::path& path);
  Mapping(Mapping&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();

  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  // msync(MS_SYNC) of the pages covering [from, to); throws with the path on failure.
  void flush(std::size_t from, std::size_t to, const std::filesystem::path& path) const;

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// Keeps every other holder out of a node directory for as long as it lives — another process, or another
// DirectoryLock of the same directory in this one: they get a StorageError instead of waiting.
//
// A POSIX record lock (fcntl F_SETLK) on <dir>/lock, not a flock on the directory: a flock, like an OFD
// lock (F_OFD_SETLK), belongs to the open file description, which fork() gives the child too, so a forked
// snapshot writer kept the directory locked until it closed its copy, and a node restarted at once after
// a kill was refused as "already open". A record lock belongs to the process: a child never holds it, and
// it goes the instant its holder dies. Its two pitfalls are kept out: a process never conflicts with its
// own record locks (a registry of the lock files held in this process refuses a second holder before it
// opens anything), and closing any descriptor of the locked file drops the lock (nothing else opens it).
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::filesystem::path& dir);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  UniqueFd fd_;
  dev_t device_ = 0;
  ino_t inode_ = 0;
};

}  // namespace shmraft::storage
