// The wire codec: every message round-trips, and no input — truncated, corrupted or random — is read
// out of bounds or accepted as something it is not.
#include "node/raft/codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tests/core/test_cluster.h"

namespace shmraft::raft {
namespace {

using testing::as_bytes;
using testing::as_string;

const std::string kPayloadA = "alpha";
const std::string kPayloadB = std::string(300, 'b');
const Entry kEntries[] = {
    {7, 11, EntryType::kNormal, as_bytes(kPayloadA)},
    {7, 12, EntryType::kNoop, {}},
    {8, 13, EntryType::kNormal, as_bytes(kPayloadB)},
    {8, 14, EntryType::kConfChange, as_bytes(kPayloadA)},
};

ConfState snapshot_conf_state() {
  ConfState conf;
  for (const NodeId id : {1u, 2u, 3u, 63u}) conf.voters.insert(id);
  conf.learners.insert(5);
  return conf;
}

std::vector<Message> every_message() {
  return {
      VoteRequest{1, 2, 9, 100, 8, false, false},
      VoteRequest{3, 1, 10, 5, 4, true, true},
      VoteResponse{2, 1, 9, false, true, 0x0102030405060708ull, 7},
      VoteResponse{2, 3, 10, true, false},
      AppendEntries{1, 2, 8, 10, 6, 9, kEntries},
      AppendEntries{1, 3, 8, 0, 0, 0, {}},
      AppendResponse{2, 1, 8, true, 13, 0, 0, 0, 0x0123456789ABCDEFull},
      AppendResponse{3, 1, 8, false, 0, 12, 9, 5, 77},
      Heartbeat{1, 2, 8, 9, 42},
      HeartbeatResponse{2, 1, 8, 42, 0xFEDCBA9876543210ull},
      InstallSnapshot{1, 3, 8, {1000, 7, snapshot_conf_state()}, as_bytes(kPayloadB)},
      InstallSnapshotResponse{3, 1, 8, 1000, 5},
      TimeoutNow{1, 2, 8},
  };
}

std::vector<std::byte> encode_to_vector(const auto& m) {
  std::vector<std::byte> out(encoded_size(m));
  const Encoded e = encode(m, out);
  EXPECT_TRUE(e) << to_string(e.error);
  EXPECT_EQ(e.size, out.size());
  return out;
}

void expect_same_entries(std::span<const Entry> a, std::span<const Entry> b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].term, b[k].term);
    EXPECT_EQ(a[k].index, b[k].index);
    EXPECT_EQ(a[k].type, b[k].type);
    EXPECT_EQ(as_string(a[k].data), as_string(b[k].data));
  }
}

// Field-by-field equality, spans compared by content.
void expect_same(const Message& a, const Message& b) {
  ASSERT_EQ(a.index(), b.index());
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        EXPECT_EQ(x.from, y.from);
        EXPECT_EQ(x.to, y.to);
        EXPECT_EQ(x.term, y.term);
        if constexpr (std::is_same_v<T, VoteRequest>) {
          EXPECT_EQ(x.last_log_index, y.last_log_index);
          EXPECT_EQ(x.last_log_term, y.last_log_term);
          EXPECT_EQ(x.pre_vote, y.pre_vote);
          EXPECT_EQ(x.leader_transfer, y.leader_transfer);
        } else if constexpr (std::is_same_v<T, VoteResponse>) {
          EXPECT_EQ(x.pre_vote, y.pre_vote);
          EXPECT_EQ(x.granted, y.granted);
        } else if constexpr (std::is_same_v<T, AppendEntries>) {
          EXPECT_EQ(x.prev_log_index, y.prev_log_index);
          EXPECT_EQ(x.prev_log_term, y.prev_log_term);
          EXPECT_EQ(x.leader_commit, y.leader_commit);
          expect_same_entries(x.entries, y.entries);
        } else if constexpr (std::is_same_v<T, AppendResponse>) {
          EXPECT_EQ(x.success, y.success);
          EXPECT_EQ(x.match_index, y.match_index);
          EXPECT_EQ(x.reject_index, y.reject_index);
          EXPECT_EQ(x.conflict_index, y.conflict_index);
          EXPECT_EQ(x.conflict_term, y.conflict_term);
          EXPECT_EQ(x.incarnation, y.incarnation);
        } else if constexpr (std::is_same_v<T, Heartbeat>) {
          EXPECT_EQ(x.commit, y.commit);
          EXPECT_EQ(x.context, y.context);
        } else if constexpr (std::is_same_v<T, HeartbeatResponse>) {
          EXPECT_EQ(x.context, y.context);
          EXPECT_EQ(x.incarnation, y.incarnation);
        } else if constexpr (std::is_same_v<T, InstallSnapshot>) {
          EXPECT_EQ(x.meta, y.meta);
          EXPECT_EQ(as_string(x.data), as_string(y.data));
        } else if constexpr (std::is_same_v<T, InstallSnapshotResponse>) {
          EXPECT_EQ(x.match_index, y.match_index);
          EXPECT_EQ(x.incarnation, y.incarnation);
        }
      },
      a);
}

TEST(Codec, EveryMessageRoundTrips) {
  DecodeScratch scratch;
  for (const Message& m : every_message()) {
    const std::vector<std::byte> bytes = encode_to_vector(m);
    const Decoded<Message> d = decode_message(bytes, scratch);
    ASSERT_TRUE(d) << "kind " << static_cast<int>(kind_of(m)) << ": " << to_string(d.error);
    expect_same(m, d.value);
    EXPECT_EQ(peek_kind(bytes).value, kind_of(m));
  }
}

TEST(Codec, AppendEntriesPayloadsAreViewsIntoTheInput) {
  const Message m = every_message()[4];
  const std::vector<std::byte> bytes = encode_to_vector(m);
  DecodeScratch scratch;
  const Decoded<Message> d = decode_message(bytes, scratch);
  ASSERT_TRUE(d);
  for (const Entry& e : std::get<AppendEntries>(d.value).entries) {
    if (e.data.empty()) continue;
    EXPECT_GE(e.data.data(), bytes.data());
    EXPECT_LE(e.data.data() + e.data.size(), bytes.data() + bytes.size());
  }
}

TEST(Codec, EveryTruncationIsAnError) {
  DecodeScratch scratch;
  for (const Message& m : every_message()) {
    const std::vector<std::byte> bytes = encode_to_vector(m);
    for (std::size_t len = 0; len < bytes.size(); ++len) {
      // A fresh heap copy of exactly `len` bytes, so ASan flags any read past the end.
      std::vector<std::byte> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len));
      const Decoded<Message> d = decode_message(cut, scratch);
      EXPECT_EQ(d.error, CodecError::kTruncated)
          << "kind " << static_cast<int>(kind_of(m)) << " cut at " << len;
    }
  }
}

TEST(Codec, TrailingBytesAreAnError) {
  DecodeScratch scratch;
  for (const Message& m : every_message()) {
    std::vector<std::byte> bytes = encode_to_vector(m);
    bytes.push_back(std::byte{0});
    EXPECT_EQ(decode_message(bytes, scratch).error, CodecError::kTrailingBytes);
  }
}

TEST(Codec, BadHeaderAndFieldValuesAreErrors) {
  DecodeScratch scratch;
  std::vector<std::byte> bytes = encode_to_vector(Message{VoteResponse{2, 1, 9, false, true}});
  std::vector<std::byte> bad = bytes;
  bad[0] = std::byte{kWireVersion + 1};
  EXPECT_EQ(decode_message(bad, scratch).error, CodecError::kBadVersion);
  bad[0] = std::byte{kWireVersion - 1};  // version 4: VoteResponse without the voter's log end
  EXPECT_EQ(decode_message(bad, scratch).error, CodecError::kBadVersion);
  bad = bytes;
  bad[1] = std::byte{0};
  EXPECT_EQ(decode_message(bad, scratch).error, CodecError::kBadKind);
  bad[1] = std::byte{200};
  EXPECT_EQ(decode_message(bad, scratch).error, CodecError::kBadKind);
  bad = bytes;
  bad[bytes.size() - 17] = std::byte{2};  // the `granted` bool, before the log end's two u64
  EXPECT_EQ(decode_message(bad, scratch).error, CodecError::kBadValue);
}

// A snapshot's configuration (wire version 3): id 0 is no node, and nobody is voter and learner at once.
TEST(Codec, InstallSnapshotWithAnImpossibleConfigurationIsAnError) {
  DecodeScratch scratch;
  const Message m = InstallSnapshot{1, 3, 8, {1000, 7, snapshot_conf_state()}, {}};
  const std::vector<std::byte> bytes = encode_to_vector(m);
  ASSERT_TRUE(decode_message(bytes, scratch));
  // Layout: version | kind | from u32 | to u32 | term u64 | index u64 | term u64 | voters u64 | learners u64
  constexpr std::size_t kVoters = 2 + 4 + 4 + 8 + 8 + 8;
  constexpr std::size_t kLearners = kVoters + 8;
  std::vector<std::byte> bad = bytes;
  bad[kVoters] |= std::byte{1};  // "node 0" is a voter
  EXPECT_EQ(decode_message(bad, scratch).error, CodecError::kBadValue);
  bad = bytes;
  bad[kLearners] |= std::byte{1 << 2};  // node 2 is a voter already
  EXPECT_EQ(decode_message(bad, scratch).error, CodecError::kBadValue);
}

TEST(Codec, UnknownEntryTypeIsAnError) {
  DecodeScratch scratch;
  const Entry entry[] = {{3, 5, EntryType::kConfChange, {}}};
  std::vector<std::byte> bytes = encode_to_vector(Message{AppendEntries{1, 2, 3, 4, 3, 4, entry}});
  ASSERT_TRUE(decode_message(bytes, scratch));
  // The entry ends with u8 type | u32 length (0): the type is the fifth byte from the end.
  bytes[bytes.size() - 5] = std::byte{static_cast<std::uint8_t>(kLastEntryType) + 1};
  EXPECT_EQ(decode_message(bytes, scratch).error, CodecError::kBadValue);
}

TEST(Codec, HugeEntryCountIsRejectedWithoutAllocating) {
  std::vector<std::byte> bytes = encode_to_vector(every_message()[5]);  // AppendEntries, no entries
  const std::uint32_t count = 0xFFFFFFFFu;
  std::memcpy(bytes.data() + bytes.size() - 4, &count, 4);
  DecodeScratch scratch;
  EXPECT_EQ(decode_message(bytes, scratch).error, CodecError::kTruncated);
  EXPECT_EQ(scratch.entries.capacity(), 0u);
}

TEST(Codec, EncodeIntoTooSmallBufferFails) {
  for (const Message& m : every_message()) {
    std::vector<std::byte> out(encoded_size(m) - 1);
    const Encoded e = encode(m, out);
    EXPECT_EQ(e.error, CodecError::kBufferTooSmall);
    EXPECT_EQ(e.size, 0u);
  }
}

TEST(Codec, RandomBytesNeverCrashAndWhatDecodesReencodesIdentically) {
  const std::uint64_t seed = 20261126;
  std::mt19937_64 rng(seed);
  DecodeScratch scratch;
  const std::vector<Message> templates = every_message();
  int decoded = 0;
  for (int round = 0; round < 200000; ++round) {
    std::vector<std::byte> bytes;
    if (round % 2 == 0) {
      // Pure noise, with a valid header half of the time so the body parsers get exercised.
      bytes.resize(rng() % 64);
      for (std::byte& b : bytes) b = static_cast<std::byte>(rng());
      if (bytes.size() >= 2 && rng() % 2) {
        bytes[0] = std::byte{kWireVersion};
        bytes[1] = static_cast<std::byte>(1 + rng() % 11);
      }
    } else {
      // A valid message with a few bytes flipped.
      bytes = encode_to_vector(templates[rng() % templates.size()]);
      for (int flips = 1 + rng() % 3; flips > 0; --flips)
        bytes[rng() % bytes.size()] = static_cast<std::byte>(rng());
    }
    const Decoded<Message> d = decode_message(bytes, scratch);
    if (!d) continue;
    ++decoded;
    std::vector<std::byte> again(encoded_size(d.value));
    ASSERT_TRUE(encode(d.value, again)) << "seed " << seed << " round " << round;
    ASSERT_EQ(again, bytes) << "non-canonical decode; seed " << seed << " round " << round;
  }
  EXPECT_GT(decoded, 0);  // the flipped-byte inputs must sometimes still be valid messages
}

}  // namespace
}  // namespace shmraft::raft
