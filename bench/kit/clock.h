#pragma once
// The one clock of every benchmark timestamp: CLOCK_MONOTONIC, shared by all processes on the host, so a
// client process and a node process can compare their readings (DESIGN.md §6 uses it for histories too).
#include <cstdint>
#include <ctime>

namespace shmraft::bench {

inline uint64_t monotonic_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no system call
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace shmraft::bench
