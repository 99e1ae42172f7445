#pragma once
// What the load run inside the leader's process (`shmraft bench --in-leader`) hands back to the
// benchmark: the node that ran it writes this into its own directory when the load ends, and the bench
// process reads it from there. CBOR (nlohmann) with the HDR histograms as byte strings; written to a
// temporary file and renamed into place, so a reader sees all of it or nothing; 0600, no symlink
// followed on either side.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bench/kit/resources.h"
#include "launcher/bench/client_load.h"

namespace shmraft::bench {

struct InLeaderResult {
  uint32_t node = 0;  // the node that led and ran the load
  uint64_t term = 0;  // its term when the load started
  // Non-empty: the run failed (leadership moved, a client thread threw, ...); the figures are not to be
  // reported as an in-leader measurement.
  std::string error;
  LoadResult load;                    // load.client_thread_cpu: inside the leader, so also in node_cpu
  std::optional<CpuUsage> node_cpu;   // every node over the measured window; none if a node was gone
  std::vector<uint64_t> node_sleeps;  // over the measured window, by node id; empty if one restarted
};

// Where node directory `node_dir` holds the result.
std::filesystem::path in_leader_result_file(const std::filesystem::path& node_dir);

// Throws std::runtime_error naming the file when it cannot be written.
void write_in_leader_result(const std::filesystem::path& file, const InLeaderResult& result);

// std::nullopt while there is no such file. Throws std::runtime_error naming the file when it is there
// but cannot be read or is malformed.
std::optional<InLeaderResult> read_in_leader_result(const std::filesystem::path& file);

}  // namespace shmraft::bench
