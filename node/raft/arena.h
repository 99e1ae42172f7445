#pragma once
// Bump allocator with stable addresses for the bytes a Ready references. Memory comes in chunks that are
// kept across reset(), so a steady-state Ready cycle allocates nothing once the chunks have grown to fit.
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

namespace shmraft::raft {

class Arena {
 public:
  explicit Arena(std::size_t chunk_size = 256 << 10) : chunk_size_(chunk_size) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Uninitialized storage for `size` bytes aligned to `align` (a power of two, <= 16).
  void* allocate(std::size_t size, std::size_t align) {
    if (current_ < chunks_.size()) {
      const std::size_t start = (used_ + align - 1) & ~(align - 1);
      if (size != 0 && start + size <= chunks_[current_].size) {
        used_ = start + size;
        return chunks_[current_].memory.get() + start;
      }
    }
    return allocate_slow(size, align);
  }

  std::span<const std::byte> copy(std::span<const std::byte> bytes);

  template <class T>
  std::span<T> allocate_array(std::size_t count) {
    return {static_cast<T*>(allocate(count * sizeof(T), alignof(T))), count};
  }

  // Forgets every allocation; keeps the chunks for reuse.
  void reset() noexcept;

  std::size_t chunk_count() const noexcept { return chunks_.size(); }

 private:
  void* allocate_slow(std::size_t size, std::size_t align);

  struct Chunk {
    std::unique_ptr<std::byte[]> memory;
    std::size_t size = 0;
  };
  std::vector<Chunk> chunks_;
  std::size_t current_ = 0;  // chunk being filled
  std::size_t used_ = 0;     // bytes used in chunks_[current_]
  std::size_t chunk_size_;
};

}  // namespace shmraft::raft
