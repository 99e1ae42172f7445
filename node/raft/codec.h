#pragma once
// Binary wire codec for Message.
//
// Format (all integers little-endian):  u8 version (=kWireVersion) | u8 kind (MessageKind) | body.
// Bodies are fixed fields in declaration order; spans are u32 length + bytes; a ConfState is two u64 bit
// sets and the repair mark. AppendEntries carries u32 entry count, then per entry u64 term | u8 type | u32
// length | bytes (indexes follow from prev_log_index). Encoding writes into a caller buffer and never
// allocates, so it can target a ring frame directly. Decoding is bounds-checked: truncated, oversized,
// trailing or random bytes yield an error, never undefined behaviour; decoded spans reference the input
// buffer (zero copy), and AppendEntries' entry headers live in the caller's DecodeScratch (reused; no
// allocation once it has grown).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "node/raft/message.h"

namespace shmraft::raft {

// Version 2 added the sender's incarnation to the append, heartbeat and snapshot responses; version 3 the
// configuration to InstallSnapshot (u64 voter bits | u64 learner bits, bit i = node i, after meta.term);
// version 4 the lost-state mark: u64 lost after the incarnation in those three responses, and the repair
// mark in a configuration (u32 repairing node | u64 repair incarnation, after the learner bits);
// version 5 the voter's log end in VoteResponse (u64 last index | u64 last term, after granted).
// A frame of another layout is refused as kBadVersion rather than misread.
inline constexpr std::uint8_t kWireVersion = 5;

enum class MessageKind : std::uint8_t {
  kVoteRequest = 1,
  kVoteResponse = 2,
  kAppendEntries = 3,
  kAppendResponse = 4,
  kHeartbeat = 5,
  kHeartbeatResponse = 6,
  kInstallSnapshot = 7,
  kInstallSnapshotResponse = 8,
  kTimeoutNow = 9,
};

enum class CodecError : std::uint8_t {
  kOk = 0,
  kTruncated,       // input ends before the message does
  kBadVersion,      // unknown wire version
  kBadKind,         // unknown message kind
  kBadValue,        // a field outside its domain (bool not 0/1, unknown enum, index overflow)
  kTrailingBytes,   // input continues after a complete message
  kBufferTooSmall,  // encode: output span shorter than encoded_size()
};
const char* to_string(CodecError error) noexcept;

// Reusable scratch for decoding: holds AppendEntries' entry headers (payloads stay in the input).
struct DecodeScratch {
  std::vector<Entry> entries;
};

template <class T>
struct Decoded {
  CodecError error = CodecError::kOk;
  T value{};
  explicit operator bool() const noexcept { return error == CodecError::kOk; }
};

struct Encoded {
  CodecError error = CodecError::kOk;
  std::size_t size = 0;  // bytes written on success
  explicit operator bool() const noexcept { return error == CodecError::kOk; }
};

MessageKind kind_of(const Message& m) noexcept;

// Exact number of bytes encode() writes.
std::size_t encoded_size(const Message& m) noexcept;

Encoded encode(const Message& m, std::span<std::byte> out) noexcept;

// Reads the kind byte without decoding (e.g. to route a frame); kBadVersion/kTruncated/kBadKind on junk.
Decoded<MessageKind> peek_kind(std::span<const std::byte> in) noexcept;

// The result's spans point into `in` (and `scratch` for AppendEntries entries): keep both alive and
// unchanged while the message is used. May allocate only to grow `scratch`.
Decoded<Message> decode_message(std::span<const std::byte> in, DecodeScratch& scratch);

}  // namespace shmraft::raft
