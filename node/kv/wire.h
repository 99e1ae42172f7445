#pragma once
// Bounds-checked varint and byte-string primitives shared by the command, result and snapshot codecs.
// Internal to shmraft_kv.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace shmraft::kv::wire {

constexpr std::size_t varint_size(uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

constexpr std::size_t string_size(std::string_view s) noexcept {
  return varint_size(s.size()) + s.size();
}

// Writes into a buffer the caller has already sized; the codecs check the size before writing.
class Writer {
 public:
  explicit Writer(std::byte* out) noexcept : p_(out) {}

  void byte(uint8_t b) noexcept { *p_++ = std::byte{b}; }
  void varint(uint64_t v) noexcept {
    while (v >= 0x80) {
      byte(static_cast<uint8_t>(v) | 0x80);
      v >>= 7;
    }
    byte(static_cast<uint8_t>(v));
  }
  void raw(std::string_view s) noexcept {
    if (!s.empty()) std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void string(std::string_view s) noexcept {
    varint(s.size());
    raw(s);
  }
  void u32(uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i) byte(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::byte* position() const noexcept { return p_; }

 private:
  std::byte* p_;
};

enum class ReadStatus : uint8_t { ok, truncated, bad_varint, too_large };

// Reads from a span; every accessor checks the remaining length first. After the first failure the
// reader stays failed and returns zeros/empty views.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) noexcept : p_(in.data()), end_(in.data() + in.size()) {}

  ReadStatus status() const noexcept { return status_; }
  bool ok() const noexcept { return status_ == ReadStatus::ok; }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }
  const std::byte* position() const noexcept { return p_; }

  uint8_t byte() noexcept {
    if (!ok()) return 0;
    if (p_ == end_) return fail(ReadStatus::truncated), 0;
    return static_cast<uint8_t>(*p_++);
  }

  // LEB128, at most 10 bytes; the 10th may only carry the top bit of a u64.
  uint64_t varint() noexcept {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (!ok()) return 0;
      if (p_ == end_) return fail(ReadStatus::truncated), 0;
      const auto b = static_cast<uint8_t>(*p_++);
      if (shift == 63 && b > 1) return fail(ReadStatus::bad_varint), 0;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return fail(ReadStatus::bad_varint), 0;
  }

  // A varint length followed by that many bytes, as a view into the input.
  std::string_view string(std::size_t max_size) noexcept {
    const uint64_t size = varint();
    if (!ok()) return {};
    if (size > max_size) return fail(ReadStatus::too_large), std::string_view{};
    if (size > remaining()) return fail(ReadStatus::truncated), std::string_view{};
    std::string_view s(reinterpret_cast<const char*>(p_), static_cast<std::size_t>(size));
    p_ += size;
    return s;
  }

  uint32_t u32() noexcept {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(byte()) << (8 * i);
    return v;
  }

 private:
  void fail(ReadStatus s) noexcept {
    if (ok()) status_ = s;
  }

  const std::byte* p_;
  const std::byte* end_;
  ReadStatus status_ = ReadStatus::ok;
};

}  // namespace shmraft::kv::wire
