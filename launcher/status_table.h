#pragma once
// What `shmraft status` shows, read from the live counters each node writes into the segment.
#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ipc/counters.h"
#include "ipc/segment.h"
#include "node/raft/conf_state.h"

namespace shmraft::launcher {

// The node's outgoing links as the fault words set them (`shmraft partition`, chaos).
struct LinkSummary {
  uint32_t cut = 0;              // disconnected, or dropping every frame
  uint32_t degraded = 0;         // dropping some frames or delaying them
  std::string describe() const;  // "ok", "cut:2", "deg:1", "c1d1"
};

struct NodeStatus {
  uint32_t node = 0;
  pid_t pid = 0;
  bool alive = false;  // the pid in the counters is a live node process of this cluster
  // In the cluster's configuration (cluster_members), or awaiting its repair by its own counters (the
  // leader takes a lost voter out and back in); true while no node has published a configuration.
  bool member = true;
  ipc::NodeCountersSnapshot counters{};
  LinkSummary links;
};

// The node slots in use: the initial voters always, and a node above them once it ever ran (`shmraft
// member add`, chaos --membership), whether it is a member now or was removed.
std::vector<uint32_t> nodes_in_use(const ipc::Segment& segment);

// One entry per node slot in use; the link counts cover the links to every other slot in use.
std::vector<NodeStatus> read_status(ipc::Segment& segment);

// The voters and learners of the configuration the cluster holds, as `shmraft member list` shows the
// leader's: that of the live leader of the highest term, else of the live node with the highest commit
// index, else of any node that ran; nullopt while none has published one.
std::optional<raft::NodeSet> cluster_members(const std::vector<NodeStatus>& nodes);

// "leader", "follower", ... for a counters' role code; for a node that is not alive "down", or
// "removed" when it is no member (a removed initial voter, whose slot `status` always lists).
std::string role_name(const NodeStatus& status);
bool is_leader(const NodeStatus& status);

// One row per node. Narrow (fits 80 columns): node, pid, role, term, leader, commit, applied, last
// index, link state, bad frames; a follower that is a learner in its configuration shows as
// "learner", one awaiting repair of its lost state as "lost", a node down that is no member as "removed".
// Wide adds frames in/out, drops, elections, syncs, sleeps, repairs.
enum class TableWidth { narrow, wide };
std::string render_status_table(const std::vector<NodeStatus>& nodes, TableWidth width);
// The same as JSON: an array of objects with those keys and more (for scripts and tests); "role" is the
// Raft role ("down"/"removed" when not alive), "member" whether it is one, and "voters"/"learners" the
// node's own configuration as id lists, "lost" non-zero while lost.
nlohmann::json status_json(const std::vector<NodeStatus>& nodes);

// Outside the fault model: a majority of the voters lost their state. A lost node votes on nothing until
// a leader repairs it, and no leader can be elected without a majority of voters that kept their state,
// so the cluster cannot serve until the lost nodes are restored: a loud refusal rather than a leader
// elected on what the lost nodes forgot. The voters are those of the configuration held by a node that
// kept its state (the one with the highest commit index), else by any node that ever ran.
struct MajorityLost {
  std::vector<uint32_t> voters;
  std::vector<uint32_t> lost;  // voters whose counters say lost
  std::string describe(const std::string& cluster) const;
};
std::optional<MajorityLost> majority_lost(const std::vector<NodeStatus>& nodes);
// The exit code of `shmraft status --once` (and `up`) when a majority of the voters lost their state.
inline constexpr int kExitMajorityLost = 3;

struct LeaderInfo {
  uint32_t node = 0;
  uint64_t term = 0;
};
// The live node in the leader role with the highest term, if any.
std::optional<LeaderInfo> current_leader(ipc::Segment& segment);

}  // namespace shmraft::launcher
