// zero_scan.h against the word-by-word loop it replaces in recovery: the same answer for a non-zero
// byte at every offset (first and last byte of a 256-byte block, a word straddling two blocks, the cut
// last word of a buffer whose size is not a multiple of 8), for ranges starting and ending on and off
// block boundaries, and for random sparse buffers.
#include "node/storage/zero_scan.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "tests/test_seed.h"

namespace shmraft::storage {
namespace {

uint64_t word_at(const std::vector<std::byte>& bytes, std::size_t pos) {
  uint64_t word = 0;
  std::memcpy(&word, bytes.data() + pos, std::min<std::size_t>(8, bytes.size() - pos));
  return word;
}

std::size_t reference_first(const std::vector<std::byte>& bytes, std::size_t from, std::size_t to) {
  for (std::size_t pos = from; pos < to; pos += 8)
    if (word_at(bytes, pos) != 0) return pos;
  return to;
}

void expect_same(const std::vector<std::byte>& bytes, std::size_t from, std::size_t to) {
  SCOPED_TRACE("from " + std::to_string(from) + " to " + std::to_string(to));
  EXPECT_EQ(first_nonzero_word(bytes, from, to), reference_first(bytes, from, to));
}

// 4 blocks and a cut word: 1024 + 5 bytes.
constexpr std::size_t kSize = 1029;
const std::size_t kFroms[] = {0, 8, 248, 256, 264, 512, 1016, 1024};
const std::size_t kTos[] = {kSize, kSize - 5, 1024, 1020, 768, 520, 512, 256, 248, 8, 0};

TEST(ZeroScan, AllZeroHasNoNonZeroWord) {
  const std::vector<std::byte> bytes(kSize);
  for (std::size_t from : kFroms) {
    for (std::size_t to : kTos) {
      if (to < from) continue;
      EXPECT_EQ(first_nonzero_word(bytes, from, to), to);
    }
  }
}

TEST(ZeroScan, OneNonZeroByteAtEveryOffset) {
  for (std::size_t at = 0; at < kSize; ++at) {
    SCOPED_TRACE("non-zero byte at " + std::to_string(at));
    std::vector<std::byte> bytes(kSize);
    bytes[at] = std::byte{0x80};
    for (std::size_t from : kFroms)
      for (std::size_t to : kTos)
        if (to >= from) expect_same(bytes, from, to);
  }
}

TEST(ZeroScan, BlockBoundaries) {
  std::vector<std::byte> bytes(kSize);
  bytes[255] = std::byte{1};  // last byte of the first block
  EXPECT_EQ(first_nonzero_word(bytes, 0, kSize), 248u);
  bytes[512] = std::byte{1};  // first byte of the third block
  EXPECT_EQ(first_nonzero_word(bytes, 256, kSize), 512u);
  bytes[kSize - 1] = std::byte{1};  // in the cut last word
  EXPECT_EQ(first_nonzero_word(bytes, 520, kSize), 1024u);
  // A 32-byte header straddling the second and third blocks: its index word ends the second.
  std::vector<std::byte> header(kSize);
  header[488] = std::byte{7};
  header[519] = std::byte{9};
  EXPECT_EQ(first_nonzero_word(header, 256, kSize), 488u);
}

TEST(ZeroScan, RandomSparseBuffersMatchTheWordLoop) {
  const uint64_t seed = testing::announce_seed();
  SCOPED_TRACE(testing::replay_command(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::byte> bytes(1 + rng() % 4096);
    const std::size_t nonzero = rng() % 4;
    for (std::size_t i = 0; i < nonzero; ++i) bytes[rng() % bytes.size()] = std::byte{1};
    const std::size_t to = rng() % (bytes.size() + 1);
    const std::size_t from = (rng() % (to + 1)) & ~std::size_t{7};
    expect_same(bytes, from, to);
  }
}

}  // namespace
}  // namespace shmraft::storage
