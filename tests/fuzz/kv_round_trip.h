#pragma once
// Decode, re-encode, decode again: the properties shared by the KV targets and the client-wire target
// (whose frames carry KV commands and results after their header).
#include <span>
#include <vector>

#include "node/kv/command.h"
#include "node/kv/result.h"
#include "tests/fuzz/fuzz_check.h"

namespace shmraft::fuzz {

inline bool same_command(const kv::Command& a, const kv::Command& b) {
  return a.client_id == b.client_id && a.sequence == b.sequence && a.op == b.op && a.key == b.key &&
         a.value == b.value && a.expected == b.expected;
}

// A command that decodes re-encodes to at most as many bytes (varints may arrive overlong, never
// leave so) and decodes back to itself.
inline void check_command_round_trip(std::span<const std::byte> bytes) {
  kv::Command command;
  if (kv::decode_command(bytes, command) != kv::DecodeError::none) return;
  std::vector<std::byte> encoded(kv::encoded_size(command));
  FUZZ_CHECK(kv::encode_command(command, encoded) == encoded.size());
  FUZZ_CHECK(encoded.size() <= bytes.size());
  kv::Command again;
  FUZZ_CHECK(kv::decode_command(encoded, again) == kv::DecodeError::none);
  FUZZ_CHECK(same_command(command, again));
}

inline void check_result_round_trip(std::span<const std::byte> bytes) {
  kv::Result result;
  if (!kv::decode_result(bytes, result)) return;
  std::vector<std::byte> encoded(kv::encoded_size(result));
  FUZZ_CHECK(kv::encode_result(result, encoded) == encoded.size());
  FUZZ_CHECK(encoded.size() <= bytes.size());
  kv::Result again;
  FUZZ_CHECK(kv::decode_result(encoded, again));
  FUZZ_CHECK(again.code == result.code && again.value == result.value && !again.duplicate);
}

}  // namespace shmraft::fuzz
