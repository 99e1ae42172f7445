#include "node/kv/value_pool.h"

#include <bit>
#include <new>

namespace shmraft::kv {
namespace {

// 2^(e-1) < bytes <= 2^e.
int ceil_log2(std::size_t bytes) noexcept {
  return static_cast<int>(std::bit_width(bytes - 1));
}

}  // namespace

ValuePool& ValuePool::shared() {
  // Never destroyed: values in static state machines may be freed after it would have been.
  static ValuePool* const pool = new ValuePool();
  return *pool;
}

ValuePool::~ValuePool() = default;

std::size_t ValuePool::class_step(std::size_t bytes) noexcept {
  return std::size_t{1} << (ceil_log2(bytes) - 1 - std::countr_zero(unsigned{kClassesPerDoubling}));
}

std::size_t ValuePool::capacity_for(std::size_t bytes) noexcept {
  if (!pooled(bytes)) return bytes;
  const std::size_t step = bytes <= kFirstDoubling ? kGrain : class_step(bytes);
  return (bytes + step - 1) / step * step;
}

std::size_t ValuePool::class_index(std::size_t capacity) noexcept {
  if (capacity <= kFirstDoubling) return capacity / kGrain - 1;
  // capacity / step is kClassesPerDoubling + 1 .. 2 * kClassesPerDoubling within (2^(e-1), 2^e].
  constexpr int kFirstDoublingLog2 = std::countr_zero(kFirstDoubling);
  return static_cast<std::size_t>(ceil_log2(capacity) - kFirstDoublingLog2) * kClassesPerDoubling +
         capacity / class_step(capacity) - kClassesPerDoubling - 1;
}

char* ValuePool::allocate(std::size_t capacity) {
  const std::size_t index = class_index(capacity);
  const std::lock_guard lock(mutex_);
  if (FreeBlock* block = free_[index]) {
    free_[index] = block->next;
    return reinterpret_cast<char*>(block);
  }
  if (slabs_.empty() || slabs_.back()->left() < capacity) {
    slabs_.reserve(slabs_.size() + 1);
    slabs_.push_back(std::make_unique<ValueSlab>(kSlabBytes));
  }
  return slabs_.back()->allocate(capacity);
}

void ValuePool::free(char* block, std::size_t capacity) noexcept {
  const std::size_t index = class_index(capacity);
  const std::lock_guard lock(mutex_);
  free_[index] = new (block) FreeBlock{free_[index]};
}

std::vector<std::span<char>> ValuePool::populated() {
  const std::lock_guard lock(mutex_);
  std::vector<std::span<char>> ranges;
  for (const std::unique_ptr<ValueSlab>& slab : slabs_) ranges.push_back(slab->populated());
  return ranges;
}

}  // namespace shmraft::kv
