#pragma once
// What applying (or locally reading) a command produced, and its encoding for the response frame.
//
// Wire format: u8 code | value length (varint) | value — the value only for ResultCode::value.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace shmraft::kv {

enum class ResultCode : uint8_t {
  ok = 0,               // put, append, delete, or a cas that matched
  value = 1,            // get: `value` holds the key's value (possibly "")
  cas_failed = 2,       // cas: the key did not hold the expected value; nothing changed
  malformed = 3,        // the entry did not decode as a command; nothing changed
  stale_sequence = 4,   // older than the session's last sequence: its reply was already delivered
  session_expired = 5,  // unknown client with sequence > 1: its session was evicted, so a retry could
                        // apply twice; nothing changed. The client must treat the command's outcome as
                        // unknown and continue under a new client id.
  absent = 6,           // get: the key holds no value (a client that reads it as "" loses nothing)
  too_large = 7,        // append: the value would outgrow the bound the command declared; nothing changed
};

// True for a byte that names a ResultCode (decoders check this before casting).
constexpr bool is_result_code(uint8_t code) noexcept {
  return code <= static_cast<uint8_t>(ResultCode::too_large);
}

std::string_view to_string(ResultCode code) noexcept;

struct Result {
  ResultCode code = ResultCode::ok;
  // For ResultCode::value: a view into the state machine's storage (or the decoded frame), valid until
  // the next call that changes the state machine (apply, restore, destruction).
  std::string_view value;
  // True when the command was a retry of the session's last command and was answered from the session
  // instead of being applied again.
  bool duplicate = false;
};

// The answer to a get of a key holding `value` (nullopt: no value), in the log or through ReadIndex.
inline Result get_result(std::optional<std::string_view> value, bool duplicate = false) noexcept {
  return value ? Result{ResultCode::value, *value, duplicate} : Result{ResultCode::absent, {}, duplicate};
}

std::size_t encoded_size(const Result& result) noexcept;

// Writes `result` into `out`; returns bytes written. Throws std::length_error if `out` is too small.
std::size_t encode_result(const Result& result, std::span<std::byte> out);

// Parses a response payload; `out.value` views into `bytes`. Returns false on malformed bytes (never UB).
bool decode_result(std::span<const std::byte> bytes, Result& out) noexcept;

}  // namespace shmraft::kv
