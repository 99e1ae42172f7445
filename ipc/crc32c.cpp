#include "ipc/crc32c.h"

#include <array>
#include <boost/crc.hpp>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace shmraft::ipc {

namespace {
uint32_t reverse_bits(uint32_t v) noexcept {
  uint32_t r = 0;
  for (int i = 0; i < 32; ++i, v >>= 1) r = (r << 1) | (v & 1);
  return r;
}
}  // namespace

uint32_t crc32c_portable(const void* data, std::size_t size, uint32_t crc) noexcept {
  // Reflected Castagnoli polynomial with the usual pre- and post-inversion; the running value passed in
  // is the finished checksum of the bytes before, so undo the final XOR to continue it.
  // Boost keeps the initial remainder unreflected, hence the bit reversal of the running value.
  using Engine = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;
  Engine engine(reverse_bits(crc ^ 0xFFFFFFFF));
  engine.process_bytes(data, size);
  return engine.checksum();
}

namespace {
// Arithmetic on polynomials modulo the reflected Castagnoli polynomial (bit 31 is x^0), as zlib's
// crc32_combine does it: continuing a CRC over n bytes multiplies its state by x^(8n), and the state of
// bytes from 0 and from another start differ by exactly that product.
constexpr uint32_t kReflectedPolynomial = 0x82F63B78;

constexpr uint32_t multiply_mod(uint32_t a, uint32_t b) noexcept {
  uint32_t product = 0;
  for (uint32_t bit = uint32_t{1} << 31; bit != 0; bit >>= 1) {
    if ((a & bit) != 0) product ^= b;
    b = (b & 1) != 0 ? (b >> 1) ^ kReflectedPolynomial : b >> 1;
  }
  return product;
}

// x^(2^k) modulo the polynomial, for k in 0..63.
constexpr std::array<uint32_t, 64> kPowersOfX = [] {
  std::array<uint32_t, 64> powers{};
  uint32_t p = uint32_t{1} << 30;  // x^1
  for (uint32_t& power : powers) {
    power = p;
    p = multiply_mod(p, p);
  }
  return powers;
}();

// x^(8 * bytes) modulo the polynomial.
constexpr uint32_t x_to_8n(uint64_t bytes) noexcept {
  uint32_t p = uint32_t{1} << 31;  // x^0
  for (std::size_t k = 3; bytes != 0; bytes >>= 1, ++k) {
    if ((bytes & 1) != 0) p = multiply_mod(kPowersOfX[k], p);
  }
  return p;
}
}  // namespace

#if defined(__x86_64__)
namespace {
// Long data goes as three interleaved streams of kStreamBytes each: crc32 has a latency of 3 cycles and a
// throughput of 1, so one dependent chain runs at a third of the instruction's speed. The streams' states
// are joined by shifting (the state of A then B is A's shifted over B's length, xor B's from 0).
constexpr std::size_t kStreamBytes = 8192;
constexpr uint32_t kStreamShift = x_to_8n(kStreamBytes);

// Continues the raw (pre-inversion) CRC state over `size` bytes.
__attribute__((target("sse4.2"))) uint32_t hardware_extend(uint64_t state, const void* data,
                                                           std::size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  const auto word_at = [](const unsigned char* at) {
    uint64_t word;
    std::memcpy(&word, at, 8);  // unaligned-safe; compiles to one load
    return word;
  };
  for (; size >= 3 * kStreamBytes; size -= 3 * kStreamBytes, p += 3 * kStreamBytes) {
    uint64_t a = state, b = 0, c = 0;
    for (std::size_t i = 0; i < kStreamBytes; i += 8) {
      a = _mm_crc32_u64(a, word_at(p + i));
      b = _mm_crc32_u64(b, word_at(p + kStreamBytes + i));
      c = _mm_crc32_u64(c, word_at(p + 2 * kStreamBytes + i));
    }
    const uint32_t ab = multiply_mod(kStreamShift, static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b);
    state = multiply_mod(kStreamShift, ab) ^ static_cast<uint32_t>(c);
  }
  for (; size >= 8; size -= 8, p += 8) state = _mm_crc32_u64(state, word_at(p));
  auto narrow = static_cast<uint32_t>(state);
  for (; size > 0; --size, ++p) narrow = _mm_crc32_u8(narrow, *p);
  return ~narrow;
}

__attribute__((target("sse4.2"))) uint32_t hardware_prefixed(uint64_t prefix, const void* data,
                                                             std::size_t size) noexcept {
  return hardware_extend(_mm_crc32_u64(0xFFFFFFFFu, prefix), data, size);
}
}  // namespace

uint32_t crc32c_hardware(const void* data, std::size_t size, uint32_t crc) noexcept {
  return hardware_extend(~crc, data, size);
}

bool crc32c_hardware_available() noexcept {
  __builtin_cpu_init();  // may run before libgcc's own initialiser (static initialisation below)
  return __builtin_cpu_supports("sse4.2");
}
#else
uint32_t crc32c_hardware(const void* data, std::size_t size, uint32_t crc) noexcept {
  return crc32c_portable(data, size, crc);
}
bool crc32c_hardware_available() noexcept {
  return false;
}
#endif

namespace {
// Read once. A call from another translation unit's static initialiser, before this is set, sees false
// and takes the portable path, which gives the same result.
const bool kHardware = crc32c_hardware_available();
}  // namespace

uint32_t crc32c(const void* data, std::size_t size, uint32_t crc) noexcept {
  return kHardware ? crc32c_hardware(data, size, crc) : crc32c_portable(data, size, crc);
}

uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b) noexcept {
  return multiply_mod(x_to_8n(length_b), crc_a) ^ crc_b;
}

uint32_t crc32c_prefixed(uint64_t prefix, const void* data, std::size_t size) noexcept {
#if defined(__x86_64__)
  if (kHardware) return hardware_prefixed(prefix, data, size);
#endif
  return crc32c_portable(data, size, crc32c_portable(&prefix, sizeof prefix));
}

}  // namespace shmraft::ipc
