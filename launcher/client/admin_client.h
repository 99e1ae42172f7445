#pragma once
// Membership changes and leadership transfer asked of a running cluster (client_wire.h's admin
// requests), for `shmraft member`, `shmraft transfer` and the tests. Found and redirected to the leader
// like a write; a busy leader (handing over) is asked again; one request at a time.
//
//     AdminClient admin(segment);
//     AdminOutcome added = admin.request(node::AdminOp::kAddLearner, 4, 5s);
//     if (added.status == raft::Status::kAlreadyMember) ...
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "ipc/segment.h"
#include "launcher/client/client_channel.h"
#include "node/process/client_wire.h"
#include "node/raft/core.h"

namespace shmraft::client {

struct AdminOutcome {
  raft::Status status = raft::Status::kOk;  // kOk: done (a change committed); else the core's refusal
  uint32_t leader = 0;                      // the leader that answered
  uint64_t index = 0;    // a change: its log index; kConfiguration: the leader's commit index
  raft::NodeSet voters;  // kConfiguration: the leader's configuration
  raft::NodeSet learners;
  // An earlier attempt may have been carried out unseen (its leader lost leadership after logging the
  // change, or did not answer): a refusal such as kAlreadyMember may then mean "done already".
  bool after_doubt = false;
};

// No leader answered within the time given.
class AdminTimeout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class AdminClient {
 public:
  explicit AdminClient(std::shared_ptr<ipc::Segment> segment, TransportKind transport = TransportKind::shm);
  ~AdminClient();
  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  // Sends `op` about `node` (0 for kConfiguration) to the leader and waits for its answer. Throws
  // AdminTimeout, or std::runtime_error for a request the leader could not read.
  AdminOutcome request(node::AdminOp op, uint32_t node, std::chrono::milliseconds timeout);

 private:
  class Replies;
  uint32_t next_target(uint32_t after) const;

  std::shared_ptr<ipc::Segment> segment_;
  ipc::ClientSlotClaim claim_;
  std::unique_ptr<ClientChannel> channel_;
  uint64_t next_request_id_ = 1;
};

}  // namespace shmraft::client
