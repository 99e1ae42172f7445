#include "node/kv/value_slab.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <new>

namespace shmraft::kv {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;
// Chunks double from 2 MiB to 64 MiB: a small state wastes little of its last chunk, a large one maps
// few chunks.
constexpr std::size_t kFirstChunk = kHugePage;
constexpr std::size_t kLargestChunk = std::size_t{64} << 20;

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; an older kernel refuses it with EINVAL
#endif

std::size_t round_up(std::size_t bytes, std::size_t unit) {
  return (bytes + unit - 1) / unit * unit;
}

}  // namespace

ValueSlab::~ValueSlab() {
  for (const Chunk& c : chunks_) ::munmap(c.base, c.bytes);
}

char* ValueSlab::allocate(std::size_t bytes) {
  if (bytes > left_) map_chunk(bytes);
  char* p = next_;
  next_ += bytes;
  left_ -= bytes;
  return p;
}

void ValueSlab::map_chunk(std::size_t at_least) {
  const std::size_t grown = chunks_.empty() ? kFirstChunk : std::min(chunks_.back().bytes * 2, kLargestChunk);
  const std::size_t bytes = std::max(grown, round_up(at_least, kHugePage));
  // Mapped a huge page larger and trimmed to a 2 MiB boundary: only aligned 2 MiB ranges get huge pages.
  const std::size_t mapped = bytes + kHugePage;
  chunks_.reserve(chunks_.size() + 1);  // so that nothing throws once the memory is mapped
  void* raw = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  auto* const start = static_cast<char*>(raw);
  char* const base = reinterpret_cast<char*>(round_up(reinterpret_cast<std::uintptr_t>(start), kHugePage));
  if (base != start) ::munmap(start, static_cast<std::size_t>(base - start));
  if (const std::size_t tail = mapped - static_cast<std::size_t>(base - start) - bytes; tail > 0)
    ::munmap(base + bytes, tail);
  ::madvise(base, bytes, MADV_HUGEPAGE);
  ::madvise(base, bytes, MADV_POPULATE_WRITE);
  chunks_.push_back({base, bytes});
  mapped_bytes_ += bytes;
  next_ = base;
  left_ = bytes;
}

}  // namespace shmraft::kv
