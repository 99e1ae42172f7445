#pragma once
// The KV command as it travels inside a Raft log entry, and its compact binary encoding.
//
// Wire format (all integers LEB128 varints, so small ids and short strings cost one byte each):
//   u8 op | client id | sequence | key length | key
//   [ | value length | value ]            for put, append, cas
//   [ | expected length | expected ]      for cas
//   [ | bound ]                           for append, when it declares one (never 0 on the wire)
// Fields an op does not use are not on the wire. The decoder checks every length against the buffer,
// rejects overlong varints, unknown ops and trailing bytes, so random or truncated bytes give an error,
// never a read out of bounds (one cut decodes: a bounded append without its bound, which frames' and
// records' CRCs keep from happening). Decoded strings are views into the input buffer: no allocation.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace shmraft::kv {

enum class Op : uint8_t { put = 1, get = 2, append = 3, cas = 4, del = 5 };

std::string_view to_string(Op op) noexcept;

// Client id 0 means "no session": the command is applied every time it is committed (at-least-once).
// Use it only where duplicates do not matter (pipelined benchmark load). Otherwise a client picks a random
// non-zero id and numbers its commands 1, 2, 3, ... (one outstanding at a time), reusing the sequence
// number when it retries (Raft dissertation §6.3).
inline constexpr uint64_t kNoSession = 0;

struct Command {
  uint64_t client_id = kNoSession;
  uint64_t sequence = 0;
  Op op = Op::get;
  std::string_view key;
  std::string_view value;     // put, append: the value; cas: the new value
  std::string_view expected;  // cas only: the value the key must hold (an absent key holds "")
  // append only: the largest value the key may hold afterwards, 0 for none. A client sets it to what a
  // get reply can carry back, so an append can never make its key unreadable; being part of the
  // replicated command, the bound gives every replica the same answer whatever its rings are later.
  uint64_t bound = 0;
};

// Largest key and value the codec accepts, so a corrupt length can never ask for a huge buffer.
inline constexpr std::size_t kMaxKeySize = 64 * 1024;
inline constexpr std::size_t kMaxValueSize = 16 * 1024 * 1024;

enum class DecodeError : uint8_t {
  none,
  empty,           // zero bytes
  bad_op,          // unknown op byte
  truncated,       // a length or varint runs past the end of the buffer
  bad_varint,      // more than 10 bytes, or a 10th byte above 1
  too_large,       // key or value above the limits above
  bad_sequence,    // a session command (client id != 0) with sequence 0
  zero_bound,      // an append that declares a bound of 0 (no bound is written as no field)
  trailing_bytes,  // bytes left after the last field
};

std::string_view to_string(DecodeError error) noexcept;

// Bytes encode_command() will write for `command`.
std::size_t encoded_size(const Command& command) noexcept;

// Writes `command` into `out` and returns the number of bytes written. Allocates nothing.
// Throws std::length_error if `out` is smaller than encoded_size(command), std::invalid_argument if the
// key or value exceeds the limits or a session command has sequence 0 (it would not decode). A bound on
// any op but append is not encoded.
std::size_t encode_command(const Command& command, std::span<std::byte> out);

// Parses `bytes` into `out` (views into `bytes`). Returns DecodeError::none on success; on error `out` is
// unspecified. Never reads outside `bytes`.
DecodeError decode_command(std::span<const std::byte> bytes, Command& out) noexcept;

}  // namespace shmraft::kv
