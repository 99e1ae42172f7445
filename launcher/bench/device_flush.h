#pragma once
// The other floor under a durable commit: making appended log records durable on the device the nodes
// write to, the way the node's storage does under `--fsync batch` — records appended one after another
// into a preallocated (fallocate), memory-mapped file, each followed by msync(MS_SYNC) of the pages it
// touched. Measured in the same run as the benchmark, beside the shared-memory floor, so a
// `--fsync batch` commit can be compared with "one device flush + one round of the processes".
//
// With `copies` > 1, that many threads append and flush at once, each to its own file, as the nodes of a
// cluster do, and a round lasts until a majority of them is durable: what a commit needs, and on a
// device that serves one request at a time (a shared virtual disk) the true floor under a cluster's
// durable commit, well above one flush.
#include <chrono>
#include <cstdint>
#include <filesystem>

#include "bench/kit/histogram.h"
#include "node/storage/format.h"

namespace shmraft::bench {

struct FlushSpec {
  std::filesystem::path dir;  // a directory on the device under test (created if missing)
  uint32_t record_bytes = storage::format::record_bytes(64);  // a 64 B command as the log stores it
  uint32_t copies = 1;  // files flushed at once, one thread each; a round waits for a majority
  uint64_t rounds = 200;
  std::chrono::nanoseconds max_duration =
      std::chrono::seconds(1);  // after a 250 ms warm-up; fewer rounds on a slow device
};

struct FlushResult {
  FlushSpec spec;
  Histogram latency;  // one sample per round: from its first start until a majority of copies is durable
};

// Uses a 16 MiB scratch file per copy (mode 0600) in spec.dir, removed afterwards. Throws
// std::system_error naming the file when one cannot be created, mapped or synced.
FlushResult measure_device_flush(const FlushSpec& spec);

}  // namespace shmraft::bench
