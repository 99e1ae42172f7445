#pragma once
// What `shmraft member` and `shmraft transfer` share: the admin client of a running cluster, the id
// range check against the segment's room, and the core's refusals as sentences.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "launcher/client/admin_client.h"
#include "launcher/live_cluster.h"

namespace shmraft::launcher {

// Throws UsageError unless `node` is in 1..max_nodes of the cluster's segment.
void check_member_id(const LiveCluster& cluster, uint32_t node);

// An admin client on its own attachment of the cluster's segment.
client::AdminClient open_admin(const LiveCluster& cluster);

// Sends `op` about `node`; throws LauncherError with the cause when no leader answered in time.
client::AdminOutcome ask_leader(client::AdminClient& admin, const LiveCluster& cluster, node::AdminOp op,
                                uint32_t node, std::chrono::milliseconds timeout);

// Whether the leader's configuration `conf` (an answer to kConfiguration) shows `op` about `node` carried
// out: after an attempt whose answer was lost, a refusal such as "a member already" may mean "done".
bool change_in_effect(const client::AdminOutcome& conf, node::AdminOp op, uint32_t node);

// "node 4 is a member already", "another membership change is in progress ...", ...
std::string describe_refusal(raft::Status status, uint32_t node);

}  // namespace shmraft::launcher
