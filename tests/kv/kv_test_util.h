#pragma once
// Builds encoded commands for the KV tests.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "node/kv/command.h"

namespace shmraft::kv::test {

// "k" + std::to_string(i), written so GCC 12 does not raise its false -Wrestrict on that expression.
inline std::string numbered(std::string_view prefix, uint64_t i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

inline std::vector<std::byte> encode(const Command& c) {
  std::vector<std::byte> out(encoded_size(c));
  encode_command(c, out);
  return out;
}

inline Command put(std::string_view k, std::string_view v, uint64_t client = kNoSession, uint64_t seq = 0) {
  return {client, seq, Op::put, k, v, {}};
}
inline Command get(std::string_view k, uint64_t client = kNoSession, uint64_t seq = 0) {
  return {client, seq, Op::get, k, {}, {}};
}
inline Command append(std::string_view k, std::string_view v, uint64_t client = kNoSession,
                      uint64_t seq = 0) {
  return {client, seq, Op::append, k, v, {}};
}
inline Command cas(std::string_view k, std::string_view expected, std::string_view v,
                   uint64_t client = kNoSession, uint64_t seq = 0) {
  return {client, seq, Op::cas, k, v, expected};
}
inline Command del(std::string_view k, uint64_t client = kNoSession, uint64_t seq = 0) {
  return {client, seq, Op::del, k, {}, {}};
}

}  // namespace shmraft::kv::test
