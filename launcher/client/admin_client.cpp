#include "launcher/client/admin_client.h"

#include <algorithm>
#include <optional>
#include <thread>

#include "ipc/clock.h"

namespace shmraft::client {

namespace {
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long one node gets to answer before the next is asked: a change commits in about a heartbeat
// round, so a silent node is dead, cut off, or no longer leads.
constexpr milliseconds kAttemptTimeout{1000};
constexpr milliseconds kRetryBackoff{10};  // no leader known, or the leader is busy handing over
}  // namespace

// The one answer to the request in flight; anything else (an abandoned attempt's late reply) is dropped.
class AdminClient::Replies final : public ClientChannel::Sink {
 public:
  Replies(uint64_t request_id, uint32_t generation) : request_id_(request_id), generation_(generation) {}

  void on_response(uint32_t, std::span<const std::byte> payload) override {
    const std::optional<node::ResponseHeader> header = node::read_header<node::ResponseHeader>(payload);
    if (!header || header->request_id != request_id_ || header->generation != generation_) return;
    header_ = header;
    const std::span<const std::byte> body = payload.subspan(sizeof(node::ResponseHeader));
    admin_ = node::read_header<node::AdminReply>(body);
    reason_.assign(reinterpret_cast<const char*>(body.data()), body.size());
  }

  const std::optional<node::ResponseHeader>& header() const noexcept { return header_; }
  const std::optional<node::AdminReply>& admin() const noexcept { return admin_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  uint64_t request_id_;
  uint32_t generation_;
  std::optional<node::ResponseHeader> header_;
  std::optional<node::AdminReply> admin_;
  std::string reason_;
};

AdminClient::AdminClient(std::shared_ptr<ipc::Segment> segment, TransportKind transport)
    : segment_(std::move(segment)), claim_(segment_->claim_client_slot()) {
  try {
    channel_ = ClientChannel::open(transport, *segment_, claim_.slot, ipc::kDefaultWaitStrategy,
                                   ipc::kDefaultSpinTime);
  } catch (...) {
    segment_->release_client_slot(claim_.slot);
    throw;
  }
}

AdminClient::~AdminClient() {
  channel_.reset();
  segment_->release_client_slot(claim_.slot);
}

uint32_t AdminClient::next_target(uint32_t after) const {
  const uint32_t slots = segment_->max_nodes();
  for (uint32_t step = 1; step <= slots; ++step) {
    const uint32_t candidate = (after + step - 1) % slots + 1;
    if (segment_->peer_alive(candidate).alive) return candidate;
  }
  return after % segment_->node_count() + 1;
}

AdminOutcome AdminClient::request(node::AdminOp op, uint32_t node, milliseconds timeout) {
  const Clock::time_point give_up = Clock::now() + timeout;
  node::AdminCommand command;
  command.op = op;
  command.node = node;
  bool doubt = false;
  const ipc::LeaderView announced = segment_->leader_record().read();
  uint32_t target = announced.leader && *announced.leader <= segment_->max_nodes() &&
                            segment_->peer_alive(*announced.leader).alive
                        ? *announced.leader
                        : next_target(0);
  while (Clock::now() < give_up) {
    const uint64_t request_id = next_request_id_++;
    const node::RequestHeader header{request_id, ipc::monotonic_ns(), claim_.generation, node::kAdminRequest};
    constexpr uint32_t kLength = sizeof header + sizeof command;
    std::byte* out = channel_->reserve(target, kLength);
    if (out == nullptr) {  // that node's channel is full or down
      target = next_target(target);
      std::this_thread::sleep_for(kRetryBackoff);
      continue;
    }
    node::write_header(header, out);
    node::write_header(command, out + sizeof header);
    channel_->commit(target, kLength);
    channel_->flush();

    Replies replies(request_id, claim_.generation);
    const Clock::time_point attempt_end = std::min(give_up, Clock::now() + kAttemptTimeout);
    while (!replies.header() && Clock::now() < attempt_end) channel_->receive(replies, attempt_end);
    if (!replies.header()) {
      doubt = doubt || op != node::AdminOp::kConfiguration;  // it may have been logged unseen
      target = next_target(target);
      continue;
    }
    switch (replies.header()->status) {
      case node::ResponseStatus::ok:
      case node::ResponseStatus::refused: {
        if (!replies.admin()) throw std::runtime_error("the leader's admin reply is malformed");
        const node::AdminReply& reply = *replies.admin();
        return AdminOutcome{static_cast<raft::Status>(reply.status),
                            reply.leader,
                            reply.index,
                            raft::NodeSet::from_bits(reply.voters),
                            raft::NodeSet::from_bits(reply.learners),
                            doubt};
      }
      case node::ResponseStatus::bad_request:
        throw std::runtime_error("node " + std::to_string(target) +
                                 " refused the request: " + replies.reason());
      case node::ResponseStatus::in_doubt:
        doubt = true;
        [[fallthrough]];
      case node::ResponseStatus::not_leader: {
        const uint32_t hint = replies.header()->leader_hint;
        if (hint != 0 && hint != target && hint <= segment_->max_nodes()) {
          target = hint;
        } else {
          target = next_target(target);
          std::this_thread::sleep_for(kRetryBackoff);
        }
        continue;
      }
      case node::ResponseStatus::busy:
        std::this_thread::sleep_for(kRetryBackoff);
        continue;
    }
  }
  throw AdminTimeout("no leader of cluster '" + segment_->cluster() + "' answered within " +
                     std::to_string(timeout.count()) + " ms");
}

}  // namespace shmraft::client
