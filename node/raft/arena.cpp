#include "node/raft/arena.h"

#include <algorithm>
#include <cstring>

namespace shmraft::raft {

void* Arena::allocate_slow(std::size_t size, std::size_t align) {
  if (size == 0) size = 1;  // distinct, valid pointers even for empty payloads
  while (current_ < chunks_.size()) {
    Chunk& chunk = chunks_[current_];
    const std::size_t start = (used_ + align - 1) & ~(align - 1);
    if (start + size <= chunk.size) {
      used_ = start + size;
      return chunk.memory.get() + start;
    }
    ++current_;
    used_ = 0;
  }
  // No kept chunk fits: add one (oversized requests get a chunk of their own size).
  const std::size_t chunk_size = std::max(chunk_size_, size);
  chunks_.push_back({std::make_unique<std::byte[]>(chunk_size), chunk_size});
  current_ = chunks_.size() - 1;
  used_ = size;
  return chunks_.back().memory.get();
}

std::span<const std::byte> Arena::copy(std::span<const std::byte> bytes) {
  if (bytes.empty()) return {};
  auto* out = static_cast<std::byte*>(allocate(bytes.size(), 1));
  std::memcpy(out, bytes.data(), bytes.size());
  return {out, bytes.size()};
}

void Arena::reset() noexcept {
  current_ = 0;
  used_ = 0;
}

}  // namespace shmraft::raft
