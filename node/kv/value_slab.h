#pragma once
// Bump-allocated memory for kv values on 2 MiB pages: one reservation of address space, 2 MiB-aligned and
// advised MADV_HUGEPAGE, made resident 2 MiB at a time (MADV_POPULATE_WRITE) only as allocate() reaches
// it, so a slab holds at most 2 MiB it does not use. A restore (StateMachine::restore) copies its values
// into a slab as large as the image, which bounds them; the value pool (value_pool.h) carves its blocks
// from slabs too.
//
// Why 2 MiB pages: on this VM a process's first touch of each 4 KiB page costs ~5-12 µs, the allocating
// process's (~3 s per GiB restored) and, after fork(), the snapshot child's again on every page it reads
// (~70 % of a 1 GiB snapshot child's CPU); fork() also copies one page-table entry per 2 MiB page instead
// of 512. Either advice may be refused (an older kernel, THP off): the memory works all the same, only
// slower.
//
// Nothing is freed before the slab. Not thread-safe.
#include <cstddef>
#include <span>

namespace shmraft::kv {

class ValueSlab {
 public:
  // Reserves `capacity` bytes rounded up to 2 MiB (none resident yet). Throws std::bad_alloc when mmap fails.
  explicit ValueSlab(std::size_t capacity);
  ~ValueSlab();
  ValueSlab(const ValueSlab&) = delete;
  ValueSlab& operator=(const ValueSlab&) = delete;

  // `bytes` of writable memory, valid until the slab dies. Throws std::bad_alloc beyond left().
  char* allocate(std::size_t bytes);

  std::size_t left() const noexcept { return static_cast<std::size_t>(end_ - next_); }
  // Resident (or at least asked to be): what allocate() reached, rounded up to 2 MiB.
  std::size_t populated_bytes() const noexcept { return static_cast<std::size_t>(populated_ - base_); }
  std::span<char> populated() const noexcept { return {base_, populated_bytes()}; }

 private:
  char* base_ = nullptr;
  char* next_ = nullptr;
  char* populated_ = nullptr;
  char* end_ = nullptr;
};

}  // namespace shmraft::kv
