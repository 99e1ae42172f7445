#include "node/storage/zero_scan.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace shmraft::storage {

namespace {

constexpr std::size_t kWord = 8;
constexpr std::size_t kBlock = 256;  // a few cache lines: long enough to vectorize, short to re-scan

bool word_is_zero(std::span<const std::byte> bytes, std::size_t pos) noexcept {
  uint64_t word = 0;
  std::memcpy(&word, bytes.data() + pos, std::min(kWord, bytes.size() - pos));
  return word == 0;
}

// Whether the kBlock bytes at `pos` are all zero: OR them together without branching, so the loop is
// vectorized.
bool block_is_zero(const std::byte* p) noexcept {
  uint64_t any = 0;
  for (std::size_t i = 0; i < kBlock; i += kWord) {
    uint64_t word;
    std::memcpy(&word, p + i, kWord);
    any |= word;
  }
  return any == 0;
}

}  // namespace

std::size_t first_nonzero_word(std::span<const std::byte> bytes, std::size_t from, std::size_t to) noexcept {
  std::size_t pos = from;
  for (;;) {
    // Word by word up to a block boundary (or to a non-zero word), then whole zero blocks are skipped.
    for (; pos < to && (pos % kBlock != 0 || to - pos < kBlock); pos += kWord)
      if (!word_is_zero(bytes, pos)) return pos;
    if (pos >= to) return to;
    while (to - pos >= kBlock && block_is_zero(bytes.data() + pos)) pos += kBlock;
    // Now at a block with a non-zero word, or with less than a block left: the word loop finds it, and
    // it leaves the block loop's condition false at the next word boundary unless a whole block follows.
    const std::size_t block_end = std::min(to, pos + kBlock);
    for (; pos < block_end; pos += kWord)
      if (!word_is_zero(bytes, pos)) return pos;
    if (pos >= to) return to;
  }
}

}  // namespace shmraft::storage
