#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "ipc/crc32c.h"
#include "node/kv/state_machine.h"
#include "tests/kv/kv_test_util.h"
#include "tests/test_seed.h"

namespace shmraft::kv {
namespace {
using namespace test;

StateMachine populated() {
  StateMachine kv;
  uint64_t index = 0;
  for (int i = 0; i < 200; ++i)
    kv.apply(++index, encode(put(numbered("key", i), std::string(i, 'v'), 1, i + 1)));
  kv.apply(++index, encode(append("log", "abc", 2, 1)));
  kv.apply(++index, encode(cas("key3", "nope", "x", 3, 1)));
  kv.apply(++index, encode(del("key7", 4, 1)));
  kv.skip(++index);
  return kv;
}

TEST(Snapshot, RestoreGivesEqualState) {
  const StateMachine original = populated();
  const auto bytes = original.snapshot();
  StateMachine copy;
  copy.restore(bytes);
  EXPECT_EQ(copy.dump(), original.dump());
  EXPECT_EQ(copy.applied_index(), original.applied_index());
  EXPECT_EQ(copy.sessions().size(), original.sessions().size());
  EXPECT_EQ(copy.snapshot(), bytes);
}

TEST(Snapshot, SessionsSurviveRestore) {
  StateMachine copy;
  copy.restore(populated().snapshot());
  const uint64_t next = copy.applied_index() + 1;
  const Result retry = copy.apply(next, encode(append("log", "abc", 2, 1)));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(copy.get("log"), "abc");
  EXPECT_EQ(copy.apply(next + 1, encode(cas("key3", "nope", "x", 3, 1))).code, ResultCode::cas_failed);
}

// A session's last answer may be any result code a command can produce — a get through the log answers
// `value` or `absent`, a bounded append `too_large` — and a snapshot must restore every one of them.
TEST(Snapshot, SessionsRestoreWhateverTheirLastAnswer) {
  StateMachine kv;
  uint64_t index = 0;
  kv.apply(++index, encode(put("present", "v")));
  kv.apply(++index, encode(get("present", 1, 1)));
  kv.apply(++index, encode(get("missing", 2, 1)));
  Command over = append("present", "too much", 3, 1);
  over.bound = 2;
  EXPECT_EQ(kv.apply(++index, encode(over)).code, ResultCode::too_large);
  StateMachine copy;
  ASSERT_NO_THROW(copy.restore(kv.snapshot()));
  EXPECT_EQ(copy.sessions().size(), 3u);
  EXPECT_EQ(copy.apply(++index, encode(over)).code, ResultCode::too_large);
}

TEST(Snapshot, BytesDependOnStateNotOnHistory) {
  // Same final state reached through different insertion orders, deletions and hash-table growth.
  StateMachine a, b;
  uint64_t ia = 0, ib = 0;
  for (int i = 0; i < 1000; ++i) a.apply(++ia, encode(put(numbered("k", i), "v")));
  for (int i = 999; i >= 0; --i) b.apply(++ib, encode(put(numbered("k", i), "old")));
  for (int i = 0; i < 1000; ++i) b.apply(++ib, encode(put(numbered("k", i), "v")));
  for (int i = 0; i < 5000; ++i) b.apply(++ib, encode(put(numbered("temp", i), "t")));
  for (int i = 0; i < 5000; ++i) b.apply(++ib, encode(del(numbered("temp", i))));
  a.skip(ib);
  EXPECT_EQ(a.snapshot(), b.snapshot());
}

TEST(Snapshot, EmptyStateRoundTrips) {
  StateMachine empty, copy;
  copy.restore(empty.snapshot());
  EXPECT_EQ(copy.snapshot(), empty.snapshot());
}

TEST(Snapshot, CorruptionIsRejectedAndLeavesStateAlone) {
  const auto bytes = populated().snapshot();
  StateMachine target;
  target.apply(1, encode(put("mine", "1")));
  const auto before = target.snapshot();
  for (std::size_t n : {std::size_t{0}, std::size_t{3}, std::size_t{8}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_THROW(target.restore(std::span(bytes).first(n)), SnapshotError) << "truncated to " << n;
  }
  auto flipped = bytes;
  flipped[flipped.size() / 3] ^= std::byte{0x10};
  EXPECT_THROW(target.restore(flipped), SnapshotError);
  auto extended = bytes;
  extended.push_back(std::byte{0});
  EXPECT_THROW(target.restore(extended), SnapshotError);
  EXPECT_EQ(target.snapshot(), before);
}

// Every single-bit flip of a small snapshot must be caught (CRC32C detects all of them) without UB.
TEST(Snapshot, EveryBitFlipIsRejected) {
  StateMachine small;
  small.apply(1, encode(put("a", "1", 1, 1)));
  small.apply(2, encode(append("b", "22", 2, 1)));
  const auto bytes = small.snapshot();
  for (std::size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    auto mutated = bytes;
    mutated[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
    StateMachine target;
    EXPECT_THROW(target.restore(mutated), SnapshotError) << "bit " << bit;
  }
}

TEST(Snapshot, FuzzedRestoreNeverCrashes) {
  const uint64_t seed = testing::announce_seed();
  SCOPED_TRACE(testing::replay_command(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 20000; ++round) {
    std::vector<std::byte> bytes(rng() % 64);
    for (auto& b : bytes) b = static_cast<std::byte>(rng());
    if (bytes.size() >= 4 && round % 2 == 0) std::memcpy(bytes.data(), "SRKV", 4);
    StateMachine target;
    try {
      target.restore(bytes);
    } catch (const SnapshotError&) {
    }
  }
}

// The image streamed in pieces (as a forked child writes it to its file) is the image snapshot() returns,
// of the length snapshot_size() announced, in pieces no larger than kSnapshotPieceBytes, each with the
// CRC of everything so far.
TEST(Snapshot, TheStreamedImageIsTheWholeImageInPieces) {
  StateMachine kv = populated();
  const std::string big(StateMachine::kSnapshotPieceBytes + 12345, 'b');  // spans pieces
  kv.apply(kv.applied_index() + 1, encode(put("big", big)));
  std::vector<std::byte> streamed;
  std::size_t pieces = 0;
  kv.snapshot([&](std::span<const std::byte> piece, uint32_t crc_so_far) {
    EXPECT_LE(piece.size(), StateMachine::kSnapshotPieceBytes);
    streamed.insert(streamed.end(), piece.begin(), piece.end());
    EXPECT_EQ(crc_so_far, ipc::crc32c(streamed.data(), streamed.size()));
    ++pieces;
  });
  EXPECT_GE(pieces, 2u);
  EXPECT_EQ(streamed.size(), kv.snapshot_size());
  EXPECT_EQ(streamed, kv.snapshot());
  StateMachine restored;
  restored.restore(streamed);
  EXPECT_EQ(restored.get("big"), big);
}

// The image of values on both sides of the in-place threshold (1 MiB; values from it up are handed to the
// sink as their own bytes, not copied) is, byte for byte, the layout snapshot.cpp documents, built here
// independently of its writer: the pieces change, the bytes do not.
// The image the layout in snapshot.cpp documents for `pairs` (sorted here) and no sessions, built without
// the writer's code.
std::vector<std::byte> documented_image(std::vector<std::pair<std::string, std::string>> pairs,
                                        uint64_t applied_index) {
  std::sort(pairs.begin(), pairs.end());
  std::vector<std::byte> expected;
  const auto raw = [&](std::string_view s) {
    for (char c : s) expected.push_back(static_cast<std::byte>(c));
  };
  const auto varint = [&](uint64_t v) {
    for (; v >= 0x80; v >>= 7) expected.push_back(static_cast<std::byte>((v & 0x7f) | 0x80));
    expected.push_back(static_cast<std::byte>(v));
  };
  raw("SRKV");
  varint(1);  // version
  varint(applied_index);
  varint(pairs.size());
  for (const auto& [key, value] : pairs) {
    varint(key.size());
    raw(key);
    varint(value.size());
    raw(value);
  }
  varint(0);  // sessions
  const uint32_t crc = ipc::crc32c(expected.data(), expected.size());
  for (int shift = 0; shift < 32; shift += 8) expected.push_back(static_cast<std::byte>(crc >> shift));
  return expected;
}

// Streams `kv`'s image and checks it against `expected`, piece sizes and running CRCs included.
void expect_streamed_image(const StateMachine& kv, const std::vector<std::byte>& expected) {
  std::vector<std::byte> streamed;
  kv.snapshot([&](std::span<const std::byte> piece, uint32_t crc_so_far) {
    EXPECT_LE(piece.size(), StateMachine::kSnapshotPieceBytes);
    streamed.insert(streamed.end(), piece.begin(), piece.end());
    EXPECT_EQ(crc_so_far, ipc::crc32c(streamed.data(), streamed.size()));
  });
  EXPECT_EQ(streamed.size(), kv.snapshot_size());
  EXPECT_TRUE(streamed == expected);  // not EXPECT_EQ: a mismatch would print a MiB
  EXPECT_TRUE(kv.snapshot() == expected);
}

TEST(Snapshot, ValuesHandedOverInPlaceGiveTheDocumentedBytes) {
  const std::vector<std::size_t> sizes = {
      0, 1, 4095, 4096, 4097, 8192, 100, 4096, 3000, StateMachine::kSnapshotPieceBytes + 1, 5000};
  StateMachine kv;
  std::vector<std::pair<std::string, std::string>> pairs;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    pairs.emplace_back(numbered("k", i + 10), std::string(sizes[i], static_cast<char>('a' + i)));
    kv.apply(i + 1, encode(put(pairs.back().first, pairs.back().second)));
  }
  expect_streamed_image(kv, documented_image(pairs, sizes.size()));
}

// Values at the value pool's edges (malloc up to 2 KiB, size classes above, malloc again past 1 MiB),
// grown by appends through several classes and restored into a slab, and keys that share their first 8
// bytes (the sort's prefix), differ only in length or a zero byte, or carry bytes above 0x7f (ordered
// unsigned): the image is the documented one, and it restores to a state that gives the same bytes.
TEST(Snapshot, PooledValuesAndKeysSharingTheirPrefixGiveTheDocumentedBytes) {
  const std::size_t mib = std::size_t{1} << 20;
  const std::vector<std::size_t> sizes = {2047, 2048,        2049,    2560, 2561,    4096,        8192,
                                          8193, mib / 2 + 1, mib - 1, mib,  mib + 1, 3 * mib + 5, 700};
  const std::vector<std::string> keys = {"abcdefgh",
                                         "abcdefgh1",
                                         "abcdefgh0",
                                         "abcdefg",
                                         std::string("abc\0", 4),
                                         "abc",
                                         std::string("abc\0\0", 5),
                                         "\xff\x01",
                                         "\x7f",
                                         "\x80",
                                         "abcdefgi",
                                         "prefix-same-long-1",
                                         "prefix-same-long-0",
                                         "z"};
  ASSERT_EQ(keys.size(), sizes.size());
  StateMachine kv;
  uint64_t index = 0;
  std::vector<std::pair<std::string, std::string>> pairs;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    pairs.emplace_back(keys[i], std::string(sizes[i], static_cast<char>('a' + i)));
    kv.apply(++index, encode(put(keys[i], pairs.back().second)));
  }
  std::string grown;  // through the classes by doubling
  for (int i = 0; i < 12; ++i) {
    const std::string piece(700 + i * 300, static_cast<char>('A' + i));
    grown += piece;
    kv.apply(++index, encode(append("grown", piece)));
  }
  pairs.emplace_back("grown", grown);
  const std::vector<std::byte> expected = documented_image(pairs, index);
  expect_streamed_image(kv, expected);

  StateMachine restored;
  restored.restore(expected);  // refuses keys out of order
  EXPECT_EQ(restored.dump(), kv.dump());
  expect_streamed_image(restored, expected);
}

// Restored values live in the restore's slab (value.h): they are overwritten, grown, appended to and
// deleted like any value, and a state machine moved or copied keeps them.
TEST(Snapshot, RestoredValuesChangeLikeAnyOther) {
  StateMachine restored;
  restored.restore(populated().snapshot());
  uint64_t index = restored.applied_index();
  restored.apply(++index, encode(put("key10", "short")));
  restored.apply(++index, encode(put("key11", std::string(500, 'w'))));
  restored.apply(++index, encode(append("key12", "+tail")));
  restored.apply(++index, encode(del("key13")));
  StateMachine moved = std::move(restored);
  const StateMachine copy = moved;
  for (const StateMachine* kv : {static_cast<const StateMachine*>(&moved), &copy}) {
    EXPECT_EQ(kv->get("key10"), "short");
    EXPECT_EQ(kv->get("key11"), std::string(500, 'w'));
    EXPECT_EQ(kv->get("key12"), std::string(12, 'v') + "+tail");
    EXPECT_FALSE(kv->get("key13").has_value());
    EXPECT_EQ(kv->get("key150"), std::string(150, 'v'));
  }
  moved.restore(StateMachine().snapshot());  // the slab goes, the copy's values stay
  EXPECT_EQ(copy.get("key150"), std::string(150, 'v'));
}

TEST(Snapshot, CopiedStateMachineIsIndependent) {
  StateMachine original = populated();
  StateMachine copy = original;
  copy.apply(copy.applied_index() + 1, encode(put("new", "1", 99, 1)));
  EXPECT_FALSE(original.get("new").has_value());
  EXPECT_EQ(copy.sessions().size(), original.sessions().size() + 1);
  StateMachine restored;
  restored.restore(original.snapshot());
  EXPECT_EQ(restored.snapshot(), original.snapshot());
}

}  // namespace
}  // namespace shmraft::kv
