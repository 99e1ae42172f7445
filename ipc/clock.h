#pragma once
// The one clock every process on the host shares: CLOCK_MONOTONIC in ns. Nodes stamp replies with it,
// clients stamp histories and phases with it, the TCP transport times reconnects with it; readings from
// different processes compare directly.
#include <time.h>

#include <cstdint>

namespace shmraft::ipc {

inline uint64_t monotonic_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no system call
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace shmraft::ipc
