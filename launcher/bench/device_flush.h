#pragma once
// The other floor under a durable commit: making one appended log record durable on the device the nodes
// write to, the way the node's storage does under `--fsync batch` — records appended one after another
// into a preallocated (fallocate), memory-mapped file, each followed by msync(MS_SYNC) of the pages it
// touched. Measured in the same run as the benchmark, beside the shared-memory floor, so a
// `--fsync batch` commit can be compared with "one device flush + one round of the processes".
#include <chrono>
#include <cstdint>
#include <filesystem>

#include "bench/kit/histogram.h"

namespace shmraft::bench {

struct FlushSpec {
  std::filesystem::path dir;   // a directory on the device under test (created if missing)
  uint32_t record_bytes = 88;  // a 64 B command behind the log's 24-byte record header
  uint64_t rounds = 200;
  std::chrono::nanoseconds max_duration =
      std::chrono::seconds(1);  // after a 250 ms warm-up; fewer rounds on a slow device
};

struct FlushResult {
  FlushSpec spec;
  Histogram latency;  // one sample per append + msync
};

// Uses a 16 MiB scratch file (mode 0600) in spec.dir, removed afterwards. Throws std::system_error naming
// the file when it cannot be created, mapped or synced.
FlushResult measure_device_flush(const FlushSpec& spec);

}  // namespace shmraft::bench
