#include "node/process/snapshot_installer.h"

#include <fcntl.h>
#include <sys/mman.h>

#include <cerrno>
#include <chrono>
#include <span>
#include <string>
#include <utility>

#include "ipc/clock.h"
#include "node/process/snapshot_receiver.h"
#include "node/storage/snapshot_file.h"

namespace shmraft::node {
namespace {

// A whole file mapped read-only, for the time of one restore.
class ReadOnlyMapping {
 public:
  ReadOnlyMapping(int fd, std::size_t size, const std::filesystem::path& path) : size_(size) {
    if (size_ == 0) return;
    // Faulted in as the restore reads it, front to back (a fault maps the cached pages around it), not
    // MAP_POPULATE'd: populating a GiB in one call took 4.0-4.5 s against 2.2-2.9 s for the faults in
    // bench_kv_restore (results/2026-12-06.md), at 128 MiB 0.66 s against 0.43 s.
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) storage::throw_errno("cannot map", path, errno);
    data_ = static_cast<const std::byte*>(p);
    ::madvise(p, size_, MADV_SEQUENTIAL);
  }
  ~ReadOnlyMapping() {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
  }
  ReadOnlyMapping(const ReadOnlyMapping&) = delete;
  ReadOnlyMapping& operator=(const ReadOnlyMapping&) = delete;
  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }

 private:
  const std::byte* data_ = nullptr;
  std::size_t size_;
};

}  // namespace

SnapshotInstaller::~SnapshotInstaller() {
  if (worker_.joinable()) worker_.join();
}

void SnapshotInstaller::start(std::filesystem::path file, const storage::SnapshotMeta& meta) {
  meta_ = meta;
  finished_.store(false, std::memory_order_relaxed);
  result_.reset();
  error_ = nullptr;
  worker_ = std::thread([this, file = std::move(file)] {
    try {
      restore(file);
    } catch (...) {
      error_ = std::current_exception();
    }
    finished_.store(true, std::memory_order_release);
  });
}

void SnapshotInstaller::restore(const std::filesystem::path& file) {
  if (testing_delay_ms_ != 0) std::this_thread::sleep_for(std::chrono::milliseconds(testing_delay_ms_));
  const uint64_t start_ns = ipc::monotonic_ns();
  const storage::UniqueFd fd = storage::open_file(file, O_RDONLY);
  // The flush waits for the disk, the restore for a core: they overlap.
  std::exception_ptr flush_error;
  std::thread flusher([&] {
    try {
      storage::sync_file_data(fd.get(), file);
    } catch (...) {
      flush_error = std::current_exception();
    }
    flush_ns_ = ipc::monotonic_ns() - start_ns;
  });
  try {
    restore_from(fd.get(), file);
  } catch (...) {
    flusher.join();
    throw;
  }
  flusher.join();
  if (flush_error) std::rethrow_exception(flush_error);
  restore_ns_ = ipc::monotonic_ns() - start_ns;
}

void SnapshotInstaller::restore_from(int fd, const std::filesystem::path& file) {
  const storage::SnapshotReader header(file);  // checks the header: configuration, sizes
  if (header.meta() != meta_)
    throw storage::StorageError("received snapshot " + file.string() + " holds index " +
                                std::to_string(header.meta().last_index) + ", not the announced " +
                                std::to_string(meta_.last_index));
  // The receiver's file: its header, then the image (snapshot_receiver.h); the reader refused a file of
  // any other size.
  const uint64_t size = storage::file_size(fd, file);
  const ReadOnlyMapping mapping(fd, size, file);
  kv::StateMachine kv;
  kv.restore(mapping.bytes().subspan(kPartialHeaderBytes));
  if (kv.applied_index() != meta_.last_index)
    throw kv::SnapshotError("the snapshot at index " + std::to_string(meta_.last_index) +
                            " holds a KV state at index " + std::to_string(kv.applied_index()));
  result_.emplace(std::move(kv));
}

kv::StateMachine SnapshotInstaller::take() {
  worker_.join();
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  kv::StateMachine kv = std::move(*result_);
  result_.reset();
  return kv;
}

}  // namespace shmraft::node
