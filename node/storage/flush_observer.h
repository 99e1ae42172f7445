#pragma once
// A test hook on every flush the storage makes — msync of a mapped range, fdatasync of a file, fsync of a
// directory — told just before the call and again once it returned. It is how the power-loss tests learn
// what is durable at each instant (tests/storage/disk_model.h builds the states a power loss could leave
// from it). Off in production: a null pointer tested next to a system call, nothing on the append path.
#include <cstddef>
#include <filesystem>

namespace shmraft::storage {

enum class FlushKind {
  file_range,  // msync(MS_SYNC) of the pages covering [from, to) of `path`
  file_data,   // fdatasync of the whole of `path`
  directory,   // fsync of the directory `path`: the names in it are durable
};

struct FlushEvent {
  FlushKind kind;
  const std::filesystem::path& path;
  std::size_t from = 0;  // file_range only
  std::size_t to = 0;
};

class FlushObserver {
 public:
  // A power loss during before() keeps only what earlier flushes made durable; after() runs once this one
  // is. Neither may throw: they run inside the storage's own error handling.
  virtual void before_flush(const FlushEvent& event) noexcept = 0;
  virtual void after_flush(const FlushEvent& event) noexcept = 0;

 protected:
  ~FlushObserver() = default;
};

// Installs `observer` for every flush of this process, or removes it with nullptr. Not synchronised:
// install it while no storage is flushing.
void set_flush_observer(FlushObserver* observer) noexcept;

}  // namespace shmraft::storage
