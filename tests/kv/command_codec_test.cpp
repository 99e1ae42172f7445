#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <vector>

#include "node/kv/command.h"
#include "node/kv/result.h"
#include "tests/test_seed.h"

namespace shmraft::kv {
namespace {

std::vector<std::byte> encode(const Command& c) {
  std::vector<std::byte> out(encoded_size(c));
  EXPECT_EQ(encode_command(c, out), out.size());
  return out;
}

void expect_same(const Command& a, const Command& b) {
  EXPECT_EQ(a.client_id, b.client_id);
  EXPECT_EQ(a.sequence, b.sequence);
  EXPECT_EQ(a.op, b.op);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.expected, b.expected);
  EXPECT_EQ(a.bound, b.bound);
}

std::vector<Command> sample_commands() {
  return {
      {kNoSession, 0, Op::get, "k", "", ""},
      {1, 1, Op::put, "key", "value", ""},
      {UINT64_MAX, UINT64_MAX, Op::append, std::string_view("\0bin\xff", 5), "tail", ""},
      {9, 2, Op::append, "bounded", "tail", "", 32 * 1024},
      {42, 300, Op::cas, "c", "new", "old"},
      {42, 301, Op::cas, "c", "", ""},
      {7, 128, Op::del, "", "", ""},
  };
}

TEST(CommandCodec, RoundTripsEveryOp) {
  for (const Command& c : sample_commands()) {
    const auto bytes = encode(c);
    Command decoded;
    ASSERT_EQ(decode_command(bytes, decoded), DecodeError::none) << to_string(c.op);
    expect_same(c, decoded);
  }
}

TEST(CommandCodec, IsCompact) {
  // op + client + sequence + key length + key + value length + value: one byte per small number.
  EXPECT_EQ(encoded_size({5, 9, Op::put, "k1", "v", ""}), 1u + 1 + 1 + 1 + 2 + 1 + 1);
  EXPECT_EQ(encoded_size({5, 9, Op::get, "k1", "ignored", "ignored"}), 1u + 1 + 1 + 1 + 2);
}

TEST(CommandCodec, UnusedFieldsAreNotEncoded) {
  Command c{3, 4, Op::del, "k", "stray", "stray"};
  Command decoded;
  ASSERT_EQ(decode_command(encode(c), decoded), DecodeError::none);
  EXPECT_EQ(decoded.value, "");
  EXPECT_EQ(decoded.expected, "");
}

// An append's bound is a trailing field: an append written without one (as before bounds existed) still
// decodes, unbounded, and the bound costs nothing on the other ops.
TEST(CommandCodec, AppendBoundIsOptionalAndOnlyOnAppend) {
  const Command bounded{1, 1, Op::append, "k", "v", "", 300};
  const Command unbounded{1, 1, Op::append, "k", "v", ""};
  EXPECT_EQ(encoded_size(bounded), encoded_size(unbounded) + 2);
  Command decoded;
  ASSERT_EQ(decode_command(encode(unbounded), decoded), DecodeError::none);
  EXPECT_EQ(decoded.bound, 0u);

  Command put{1, 1, Op::put, "k", "v", "", 300};
  EXPECT_EQ(encoded_size(put), encoded_size({1, 1, Op::put, "k", "v", ""}));
  ASSERT_EQ(decode_command(encode(put), decoded), DecodeError::none);
  EXPECT_EQ(decoded.bound, 0u);
}

TEST(CommandCodec, EncodeRejectsSmallBufferAndBadCommands) {
  const Command c{1, 1, Op::put, "key", "value", ""};
  std::vector<std::byte> small(encoded_size(c) - 1);
  EXPECT_THROW(encode_command(c, small), std::length_error);

  std::vector<std::byte> big(64);
  EXPECT_THROW(encode_command({1, 0, Op::put, "k", "v", ""}, big), std::invalid_argument);
  EXPECT_THROW(encode_command({1, 1, static_cast<Op>(9), "k", "v", ""}, big), std::invalid_argument);
  const std::string huge_key(kMaxKeySize + 1, 'k');
  std::vector<std::byte> huge(kMaxKeySize + 64);
  EXPECT_THROW(encode_command({1, 1, Op::get, huge_key, "", ""}, huge), std::invalid_argument);
}

// Except one cut: a bounded append without its whole bound is a valid unbounded append (the bound is an
// optional last field). Frames and log records carry CRCs, so no cut bytes reach the decoder.
TEST(CommandCodec, EveryTruncationIsAnError) {
  for (const Command& c : sample_commands()) {
    const auto bytes = encode(c);
    Command unbounded = c;
    unbounded.bound = 0;
    const std::size_t without_bound = encoded_size(unbounded);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      Command decoded;
      const DecodeError e = decode_command(std::span(bytes).first(n), decoded);
      if (n == without_bound && c.bound != 0) {
        EXPECT_EQ(e, DecodeError::none);
        EXPECT_EQ(decoded.bound, 0u);
      } else {
        EXPECT_NE(e, DecodeError::none) << to_string(c.op) << " cut to " << n << " bytes";
      }
    }
  }
}

TEST(CommandCodec, SpecificErrors) {
  Command out;
  EXPECT_EQ(decode_command({}, out), DecodeError::empty);
  std::vector<std::byte> bad_op{std::byte{0}, std::byte{1}, std::byte{1}, std::byte{0}};
  EXPECT_EQ(decode_command(bad_op, out), DecodeError::bad_op);

  auto trailing = encode({1, 1, Op::get, "k", "", ""});
  trailing.push_back(std::byte{0});
  EXPECT_EQ(decode_command(trailing, out), DecodeError::trailing_bytes);

  // "No bound" is written as no field, so an explicit 0 would not encode back to the same bytes.
  auto zero_bound = encode({1, 1, Op::append, "k", "v", ""});
  zero_bound.push_back(std::byte{0});
  EXPECT_EQ(decode_command(zero_bound, out), DecodeError::zero_bound);
  auto bound_then_trailing = encode({1, 1, Op::append, "k", "v", "", 5});
  bound_then_trailing.push_back(std::byte{1});
  EXPECT_EQ(decode_command(bound_then_trailing, out), DecodeError::trailing_bytes);

  // Eleven continuation bytes can never be a u64.
  std::vector<std::byte> overlong{std::byte{2}};
  overlong.insert(overlong.end(), 11, std::byte{0x80});
  EXPECT_EQ(decode_command(overlong, out), DecodeError::bad_varint);

  // Client 1, sequence 0: a session command must be numbered from 1.
  std::vector<std::byte> zero_seq{std::byte{2}, std::byte{1}, std::byte{0}, std::byte{0}};
  EXPECT_EQ(decode_command(zero_seq, out), DecodeError::bad_sequence);

  // A key length far beyond the buffer and beyond the limit.
  std::vector<std::byte> too_large{std::byte{2},    std::byte{0},    std::byte{0},
                                   std::byte{0xff}, std::byte{0xff}, std::byte{0x7f}};
  EXPECT_EQ(decode_command(too_large, out), DecodeError::too_large);
}

// Random bytes and mutated valid encodings: the decoder must never read out of bounds (ASan checks that)
// and anything it accepts must re-encode into bytes that decode to the same command.
TEST(CommandCodec, FuzzedDecodeIsSafe) {
  const uint64_t seed = testing::announce_seed();
  SCOPED_TRACE(testing::replay_command(seed));
  std::mt19937_64 rng(seed);
  const auto samples = sample_commands();
  std::size_t accepted = 0;
  for (int round = 0; round < 200000; ++round) {
    std::vector<std::byte> bytes;
    if (round % 2 == 0) {
      bytes.resize(rng() % 24);
      for (auto& b : bytes) b = static_cast<std::byte>(rng());
    } else {
      bytes = encode(samples[rng() % samples.size()]);
      const int flips = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < flips; ++i)
        bytes[rng() % bytes.size()] ^= static_cast<std::byte>(1u << (rng() % 8));
    }
    // Decode from an exactly-sized heap copy so any overread hits ASan's redzone.
    auto exact = std::make_unique<std::byte[]>(bytes.size());
    std::copy(bytes.begin(), bytes.end(), exact.get());
    Command decoded;
    if (decode_command(std::span<const std::byte>(exact.get(), bytes.size()), decoded) != DecodeError::none)
      continue;
    ++accepted;
    const auto reencoded = encode(decoded);
    Command again;
    ASSERT_EQ(decode_command(reencoded, again), DecodeError::none);
    expect_same(decoded, again);
  }
  EXPECT_GT(accepted, 0u);
}

TEST(ResultCodec, RoundTripAndRejectsGarbage) {
  const Result samples[] = {{ResultCode::ok, "", false},
                            {ResultCode::value, "some value", false},
                            {ResultCode::value, "", false},
                            {ResultCode::cas_failed, "", false},
                            {ResultCode::session_expired, "", false},
                            {ResultCode::absent, "", false}};
  for (const Result& r : samples) {
    std::vector<std::byte> bytes(encoded_size(r));
    ASSERT_EQ(encode_result(r, bytes), bytes.size());
    Result decoded;
    ASSERT_TRUE(decode_result(bytes, decoded));
    EXPECT_EQ(decoded.code, r.code);
    EXPECT_EQ(decoded.value, r.value);
    for (std::size_t n = 0; n < bytes.size(); ++n)
      EXPECT_FALSE(decode_result(std::span(bytes).first(n), decoded));
    if (r.code == ResultCode::value) {
      std::vector<std::byte> small(bytes.size() - 1);
      EXPECT_THROW(encode_result(r, small), std::length_error);
    }
  }
  Result out;
  const std::vector<std::byte> bad_code{std::byte{9}};
  EXPECT_FALSE(decode_result(bad_code, out));
}

}  // namespace
}  // namespace shmraft::kv
