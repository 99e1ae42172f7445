#pragma once
// Fault switch of one directed link (node -> node), set by the launcher (`shmraft partition/heal`,
// chaos) and honoured by the SENDING node, so Raft itself never knows (DESIGN §2).
//
// One 64-bit word, so a change is one atomic store and a send reads it with one relaxed load:
//   bit 0        1 = disconnected (every frame on the link is dropped)
//   bits 1..20   drop probability in parts per million (0 .. 1'000'000)
//   bits 32..63  delay in microseconds before a frame may be sent
// The all-zero word is a healthy link.
//
// Sender side, per outgoing frame (cheap when the link is healthy: one load, no RNG call):
//     SendDecision d = decide_send(segment.link_fault(me, peer), rng);   // rng: e.g. std::mt19937_64
//     if (!d.deliver) ++drops;
//     else if (d.delay.count() == 0) send now;
//     else hold the frame until now + d.delay (the sender keeps its own queue of delayed frames).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>

#include "ipc/doorbell.h"

namespace shmraft::ipc {

struct FaultSettings {
  bool connected = true;
  double drop_rate = 0.0;              // 0..1
  std::chrono::microseconds delay{0};  // 0 .. 2^32-1 µs

  friend bool operator==(const FaultSettings&, const FaultSettings&) = default;
};

inline constexpr uint32_t kDropRateScale = 1'000'000;  // drop rate resolution: one part per million
inline constexpr uint64_t kFaultDisconnected = 1;
inline constexpr int kFaultDropShift = 1;
inline constexpr uint64_t kFaultDropMask = (uint64_t{1} << 20) - 1;
inline constexpr int kFaultDelayShift = 32;

// Throws std::invalid_argument for a drop rate outside [0, 1] or a delay outside [0, 2^32) µs.
uint64_t encode_fault(const FaultSettings& settings);
FaultSettings decode_fault(uint64_t word) noexcept;

struct alignas(kCacheLine) LinkFault {
  std::atomic<uint64_t> word{0};

  void set(const FaultSettings& settings) { word.store(encode_fault(settings), std::memory_order_relaxed); }
  FaultSettings get() const noexcept { return decode_fault(word.load(std::memory_order_relaxed)); }
  void heal() noexcept { word.store(0, std::memory_order_relaxed); }
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);

struct SendDecision {
  bool deliver = true;
  std::chrono::microseconds delay{0};
};

// What to do with one frame on this link. `rng` is any uniform random bit generator the caller owns
// (seeded, so a test can replay it); it is consulted only when the drop rate is strictly between 0 and 1.
template <class Rng>
SendDecision decide_send(const LinkFault& link, Rng& rng) {
  // relaxed: the word guards no other data; a new setting taking effect a moment later is fine.
  const uint64_t word = link.word.load(std::memory_order_relaxed);
  if (word == 0) return {};
  if ((word & kFaultDisconnected) != 0) return {false, {}};
  const auto ppm = static_cast<uint32_t>((word >> kFaultDropShift) & kFaultDropMask);
  if (ppm >= kDropRateScale) return {false, {}};
  if (ppm > 0 && std::uniform_int_distribution<uint32_t>(0, kDropRateScale - 1)(rng) < ppm)
    return {false, {}};
  return {true, std::chrono::microseconds(word >> kFaultDelayShift)};
}

}  // namespace shmraft::ipc
