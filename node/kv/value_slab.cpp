#include "node/kv/value_slab.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <new>

namespace shmraft::kv {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; an older kernel refuses it with EINVAL
#endif

std::size_t round_up(std::size_t bytes, std::size_t unit) {
  return (bytes + unit - 1) / unit * unit;
}

}  // namespace

ValueSlab::ValueSlab(std::size_t capacity) {
  const std::size_t bytes = round_up(capacity, kHugePage);
  if (bytes == 0) return;
  // Mapped a huge page larger and trimmed to a 2 MiB boundary: only aligned 2 MiB ranges get huge pages.
  const std::size_t mapped = bytes + kHugePage;
  void* raw =
      ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  auto* const start = static_cast<char*>(raw);
  base_ = reinterpret_cast<char*>(round_up(reinterpret_cast<std::uintptr_t>(start), kHugePage));
  if (base_ != start) ::munmap(start, static_cast<std::size_t>(base_ - start));
  if (const std::size_t tail = mapped - static_cast<std::size_t>(base_ - start) - bytes; tail > 0)
    ::munmap(base_ + bytes, tail);
  ::madvise(base_, bytes, MADV_HUGEPAGE);
  next_ = populated_ = base_;
  end_ = base_ + bytes;
}

ValueSlab::~ValueSlab() {
  if (base_ != nullptr) ::munmap(base_, static_cast<std::size_t>(end_ - base_));
}

char* ValueSlab::allocate(std::size_t bytes) {
  if (bytes > left()) throw std::bad_alloc();
  char* const p = next_;
  next_ += bytes;
  if (next_ > populated_) {
    // One call for the huge pages just reached, rather than a fault per page as they are first written.
    char* const until = base_ + round_up(static_cast<std::size_t>(next_ - base_), kHugePage);
    ::madvise(populated_, static_cast<std::size_t>(until - populated_), MADV_POPULATE_WRITE);
    populated_ = until;
  }
  return p;
}

}  // namespace shmraft::kv
