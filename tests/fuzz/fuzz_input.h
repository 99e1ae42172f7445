#pragma once
// Reads a fuzz input front to back as little-endian integers and byte runs, yielding zeros once it is
// exhausted, so any input is a complete script. FuzzInputWriter writes the same layout, which is how the
// seed generator builds inputs for the structured targets (ring, storage).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace shmraft::fuzz {

class FuzzInput {
 public:
  explicit FuzzInput(std::span<const std::byte> bytes) noexcept : bytes_(bytes) {}

  template <class T>
  T integer() noexcept {
    T value{};
    const std::size_t n = sizeof value < remaining() ? sizeof value : remaining();
    std::memcpy(&value, bytes_.data() + pos_, n);
    pos_ += n;
    return value;
  }
  // Up to `size` bytes (fewer at the end of the input).
  std::span<const std::byte> take(std::size_t size) noexcept {
    const std::size_t n = size < remaining() ? size : remaining();
    const std::span<const std::byte> run = bytes_.subspan(pos_, n);
    pos_ += n;
    return run;
  }
  std::size_t remaining() const noexcept { return bytes_.size() - pos_; }
  bool empty() const noexcept { return remaining() == 0; }

 private:
  std::span<const std::byte> bytes_;
  std::size_t pos_ = 0;
};

class FuzzInputWriter {
 public:
  template <class T>
  void integer(T value) {
    const auto* p = reinterpret_cast<const std::byte*>(&value);
    bytes_.insert(bytes_.end(), p, p + sizeof value);
  }
  void bytes(std::span<const std::byte> run) { bytes_.insert(bytes_.end(), run.begin(), run.end()); }
  const std::vector<std::byte>& data() const noexcept { return bytes_; }

 private:
  std::vector<std::byte> bytes_;
};

// The fuzzer's raw input as bytes.
inline std::span<const std::byte> input_bytes(const uint8_t* data, std::size_t size) noexcept {
  return std::as_bytes(std::span(data, size));
}

}  // namespace shmraft::fuzz
