#include "node/kv/value.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "node/kv/value_pool.h"

namespace shmraft::kv {

Value::Value(std::string_view bytes, ValueSlab& slab) {
  if (bytes.empty()) return;
  data_ = slab.allocate(bytes.size());
  std::memcpy(data_, bytes.data(), bytes.size());
  size_ = capacity_ = bytes.size();
}

void Value::assign(std::string_view bytes) {
  if (bytes.size() > capacity_) {
    const std::size_t capacity = ValuePool::capacity_for(bytes.size());
    adopt(heap_copy(capacity, {}, bytes), capacity);
  } else if (!bytes.empty()) {
    std::memmove(data_, bytes.data(), bytes.size());
  }
  // Not stored when equal: after a snapshot's fork every page written is a copy-on-write fault (15-50 us
  // on this VM), and an overwrite of the same length then touches only the value's bytes, not the table
  // slot this object lives in (half the pages a snapshot made the loop copy at 64 K keys).
  if (size_ != bytes.size()) size_ = bytes.size();
}

void Value::append(std::string_view bytes) {
  const std::size_t size = size_ + bytes.size();
  if (size > capacity_) {
    // Doubling, as std::string does: a value built by many appends is copied a logarithmic number of times.
    const std::size_t capacity = ValuePool::capacity_for(std::max(size, 2 * capacity_));
    adopt(heap_copy(capacity, view(), bytes), capacity);
  } else if (!bytes.empty()) {
    std::memcpy(data_ + size_, bytes.data(), bytes.size());
  }
  size_ = size;
}

char* Value::heap_copy(std::size_t capacity, std::string_view head, std::string_view tail) {
  auto* const fresh = ValuePool::pooled(capacity) ? ValuePool::shared().allocate(capacity)
                                                  : static_cast<char*>(::operator new(capacity));
  if (!head.empty()) std::memcpy(fresh, head.data(), head.size());
  if (!tail.empty()) std::memcpy(fresh + head.size(), tail.data(), tail.size());
  return fresh;
}

void Value::adopt(char* heap, std::size_t capacity) noexcept {
  release();
  data_ = heap;
  capacity_ = capacity;
  on_heap_ = true;
}

void Value::release() noexcept {
  if (!on_heap_) return;
  if (ValuePool::pooled(capacity_))
    ValuePool::shared().free(data_, capacity_);
  else
    ::operator delete(data_);
}

}  // namespace shmraft::kv
