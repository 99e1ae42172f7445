#pragma once
// A buffer allocated once at its largest size and handed out again and again at any size up to that,
// the bytes past the requested size poisoned for ASan: reading or writing past the end is caught as in
// a fresh allocation of exactly that size (and before the start, by the heap redzone), but without a
// fresh allocation per input. Under ASan each allocation is costly: freed memory waits in quarantine,
// so a new one touches new pages (a page fault and a TLB flush each), and it is filled with 0xbe.
#include <sanitizer/asan_interface.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>

namespace shmraft::fuzz {

class ReusedBuffer {
 public:
  explicit ReusedBuffer(std::size_t max_size)
      : bytes_(std::make_unique<std::byte[]>(max_size)), max_size_(max_size) {}
  ~ReusedBuffer() { ASAN_UNPOISON_MEMORY_REGION(bytes_.get(), max_size_); }
  ReusedBuffer(const ReusedBuffer&) = delete;
  ReusedBuffer& operator=(const ReusedBuffer&) = delete;

  // The first `size` bytes (size <= max_size), zeroed; the rest poisoned until the next call.
  std::span<std::byte> zeroed(std::size_t size) noexcept {
    ASAN_UNPOISON_MEMORY_REGION(bytes_.get(), max_size_);
    std::memset(bytes_.get(), 0, size);
    ASAN_POISON_MEMORY_REGION(bytes_.get() + size, max_size_ - size);
    return {bytes_.get(), size};
  }

 private:
  std::unique_ptr<std::byte[]> bytes_;
  std::size_t max_size_;
};

}  // namespace shmraft::fuzz
