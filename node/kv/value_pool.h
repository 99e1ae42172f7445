#pragma once
// Memory for the kv values of up to 1 MiB that apply writes (value.h), on 2 MiB pages (value_slab.h says
// why: a snapshot child reading a GiB of values on 4 KiB pages spent ~70 % of its CPU on the VM's
// first-touch cost of each page), and in few known ranges, so that after a snapshot's fork they can be
// copied in a call per slab rather than in a copy-on-write fault per page as apply writes them
// (value_memory.h).
// Blocks come in size classes, multiples of 8 up to 32 bytes and 4 per power of two above (at most 25 %
// unused), carved from 64 MiB slabs and kept on a free list per class when freed, for the next value of
// that class; memory is never given back to the system (as a malloc heap mostly is not either).
// Thread-safe (a mutex: values are allocated on the node's loop and freed wherever a state machine dies).
#include <array>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "node/kv/value_slab.h"

namespace shmraft::kv {

class ValuePool {
 public:
  static constexpr std::size_t kLargest = std::size_t{1} << 20;  // larger values are on the heap

  // The one every Value uses.
  static ValuePool& shared();

  ValuePool() = default;
  ~ValuePool();
  ValuePool(const ValuePool&) = delete;
  ValuePool& operator=(const ValuePool&) = delete;

  static bool pooled(std::size_t capacity) noexcept { return capacity > 0 && capacity <= kLargest; }
  // The capacity a block for `bytes` has: its size class for pooled sizes, `bytes` otherwise.
  static std::size_t capacity_for(std::size_t bytes) noexcept;

  // A block of `capacity` (a capacity_for() value that is pooled()). Throws std::bad_alloc.
  char* allocate(std::size_t capacity);
  // Gives back a block allocate(capacity) returned.
  void free(char* block, std::size_t capacity) noexcept;
  // What its slabs hold now (ValueSlab::populated): the slabs are never unmapped.
  std::vector<std::span<char>> populated();

 private:
  static constexpr int kClassesPerDoubling = 4;
  static constexpr std::size_t kGrain = 8;  // every class a multiple: a FreeBlock fits any block, aligned
  static constexpr std::size_t kFirstDoubling = kGrain * kClassesPerDoubling;  // classes above: per doubling
  static constexpr std::size_t kSlabBytes = std::size_t{64} << 20;
  // The spacing of the classes in (2^(e-1), 2^e] for `bytes` in it.
  static std::size_t class_step(std::size_t bytes) noexcept;
  static std::size_t class_index(std::size_t capacity) noexcept;

  struct FreeBlock {
    FreeBlock* next;
  };

  std::mutex mutex_;
  std::vector<std::unique_ptr<ValueSlab>> slabs_;
  // 8, 16, 24, 32, then (32, 64] ... (512 KiB, 1 MiB] in kClassesPerDoubling each.
  std::array<FreeBlock*, kClassesPerDoubling + 15 * kClassesPerDoubling> free_{};
};

}  // namespace shmraft::kv
