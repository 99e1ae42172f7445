#pragma once

#include <cstdint>
#include <string_view>

namespace shmraft::sim {

// The simulated state machine is a hash chain over every applied entry (index, term, payload), so two
// nodes' states are equal exactly when they applied the same entries; a snapshot is just this hash.
// FNV-1a, 64 bit.
inline uint64_t chain_state_hash(uint64_t hash, uint64_t index, uint64_t term, std::string_view data) {
  auto mix_byte = [&hash](unsigned char byte) { hash = (hash ^ byte) * 0x100000001b3ULL; };
  for (int shift = 0; shift < 64; shift += 8) mix_byte(static_cast<unsigned char>(index >> shift));
  for (int shift = 0; shift < 64; shift += 8) mix_byte(static_cast<unsigned char>(term >> shift));
  for (char c : data) mix_byte(static_cast<unsigned char>(c));
  return hash;
}

inline constexpr uint64_t kEmptyStateHash = 0xcbf29ce484222325ULL;

}  // namespace shmraft::sim
