#include "node/kv/value_pool.h"

#include <bit>
#include <new>

namespace shmraft::kv {
namespace {

// 2^(e-1) < bytes <= 2^e.
int ceil_log2(std::size_t bytes) noexcept {
  return static_cast<int>(std::bit_width(bytes - 1));
}

constexpr int kSmallestLog2 = std::countr_zero(ValuePool::kSmallest);

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
  const std::size_t step = class_step(bytes);
  return (bytes + step - 1) / step * step;
}

std::size_t ValuePool::class_index(std::size_t capacity) noexcept {
  // capacity / step is kClassesPerDoubling + 1 .. 2 * kClassesPerDoubling within (2^(e-1), 2^e].
  return static_cast<std::size_t>(ceil_log2(capacity) - kSmallestLog2 - 1) * kClassesPerDoubling +
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

}  // namespace shmraft::kv
