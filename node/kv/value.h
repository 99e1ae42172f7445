#pragma once
// A value of the KV table: its bytes in the value pool on 2 MiB pages (up to 1 MiB, value_pool.h), on the
// heap (larger), or in the ValueSlab of the snapshot it was restored from (value_slab.h), which it never
// frees. Like std::string it keeps its capacity, so overwriting a value with one no longer than
// the capacity allocates nothing; unlike it, a value restored from a snapshot costs no malloc of its own.
// A change that does not fit moves it to the pool (or the heap); so does a copy.
#include <cstddef>
#include <string_view>
#include <utility>

#include "node/kv/value_slab.h"

namespace shmraft::kv {

class Value {
 public:
  Value() noexcept = default;
  explicit Value(std::string_view bytes) { assign(bytes); }
  Value(std::string_view bytes, ValueSlab& slab);
  Value(const Value& other) : Value(other.view()) {}
  Value& operator=(const Value& other) {
    assign(other.view());
    return *this;
  }
  Value(Value&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)),
        on_heap_(std::exchange(other.on_heap_, false)) {}
  Value& operator=(Value&& other) noexcept {
    Value moved(std::move(other));
    swap(moved);
    return *this;
  }
  ~Value() { release(); }

  std::string_view view() const noexcept { return {data_, size_}; }
  operator std::string_view() const noexcept { return view(); }
  std::size_t size() const noexcept { return size_; }

  // In place when `bytes` fits the capacity, otherwise into a new heap buffer.
  void assign(std::string_view bytes);
  void append(std::string_view bytes);

  void swap(Value& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
    std::swap(on_heap_, other.on_heap_);
  }

 private:
  // A new heap buffer of `capacity` holding `head` then `tail` (either may be this value's own bytes).
  static char* heap_copy(std::size_t capacity, std::string_view head, std::string_view tail);
  void adopt(char* heap, std::size_t capacity) noexcept;  // frees what it held
  void release() noexcept;

  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  bool on_heap_ = false;
};

}  // namespace shmraft::kv
