#include "launcher/membership.h"

#include "launcher/launcher_error.h"

namespace shmraft::launcher {

void check_member_id(const LiveCluster& cluster, uint32_t node) {
  const uint32_t room = cluster.max_nodes();
  if (node < 1 || node > room)
    throw UsageError("node id " + std::to_string(node) + " out of range 1.." + std::to_string(room) +
                     ": cluster '" + cluster.name() + "' has room for " + std::to_string(room) +
                     " nodes (`shmraft up --max-nodes`)");
}

client::AdminClient open_admin(const LiveCluster& cluster) {
  try {
    return client::AdminClient(std::make_shared<ipc::Segment>(ipc::Segment::attach(cluster.name())));
  } catch (const ipc::SegmentError& e) {
    throw LauncherError(e.what());
  }
}

client::AdminOutcome ask_leader(client::AdminClient& admin, const LiveCluster& cluster, node::AdminOp op,
                                uint32_t node, std::chrono::milliseconds timeout) {
  try {
    return admin.request(op, node, timeout);
  } catch (const client::AdminTimeout& e) {
    throw LauncherError(std::string(e.what()) + " (does cluster '" + cluster.name() +
                        "' have a majority of its voters running?)");
  }
}

bool change_in_effect(const client::AdminOutcome& conf, node::AdminOp op, uint32_t node) {
  switch (op) {
    case node::AdminOp::kAddLearner:
      return conf.learners.contains(node) || conf.voters.contains(node);
    case node::AdminOp::kPromote:
      return conf.voters.contains(node);
    case node::AdminOp::kRemove:
      return !conf.learners.contains(node) && !conf.voters.contains(node);
    default:
      return false;
  }
}

std::string describe_refusal(raft::Status status, uint32_t node) {
  const std::string id = "node " + std::to_string(node);
  switch (status) {
    case raft::Status::kAlreadyMember:
      return id + " is a member already";
    case raft::Status::kConfChangePending:
      return "another membership change is in progress (or the leader has just been elected): try again "
             "once it has committed";
    case raft::Status::kRemovesLastVoter:
      return id + " is the last voter: removing it would leave the cluster without one";
    case raft::Status::kNotLearner:
      return id + " is not a learner (`shmraft member add` adds it as one)";
    case raft::Status::kNotMember:
      return id + " is not a member";
    case raft::Status::kLearnerBehind:
      return id + " has not caught up with the leader's log yet";
    case raft::Status::kNodeLost:
      return id +
             " lost its state and is being repaired by the leader; it can vote, lead or be promoted "
             "once repaired (`shmraft status` counts repairs)";
    case raft::Status::kInvalidArgument:
      return id + " cannot take part: not a voter, or an id the cluster has no room for";
    default:
      return raft::to_string(status);
  }
}

}  // namespace shmraft::launcher
