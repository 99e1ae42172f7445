#pragma once
// Where a node's count of log towards its next snapshot starts. Every node applies the same log, so with
// one threshold (--snapshot-bytes) all would fork at the same index and pay the copy-on-write faults
// after it at the same moment: a leader and its quorum slowed at once (stepdown.md: elections within
// 0.5 s of those forks, 9 of 9). Node k of the n initial voters starts (k - 1) / n of the threshold in,
// so the nodes fork 1/n of the threshold of log apart, and stay so: each counts from its own snapshot.
#include <cstdint>

namespace shmraft::node {

inline uint64_t snapshot_head_start(uint32_t node, uint32_t voters, uint64_t snapshot_bytes) {
  if (voters == 0 || node == 0) return 0;
  return snapshot_bytes / voters * ((node - 1) % voters);
}

// After installing a snapshot `leader` took, the same distance from the leader's next fork as at start.
inline uint64_t snapshot_head_start_after_install(uint32_t node, uint32_t leader, uint32_t voters,
                                                  uint64_t snapshot_bytes) {
  const uint64_t mine = snapshot_head_start(node, voters, snapshot_bytes);
  const uint64_t theirs = snapshot_head_start(leader, voters, snapshot_bytes);
  return mine >= theirs ? mine - theirs : snapshot_bytes - (theirs - mine);
}

}  // namespace shmraft::node
