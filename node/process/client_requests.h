#pragma once
// The leader's bookkeeping of client requests, from the decoded request to its one reply: writes wait
// in the log until applied, reads wait for a ReadIndex round's confirmation and for apply to reach its
// index, and losing leadership answers everything still waiting. Each reply carries the request's phase
// stamps (client_wire.h): receive <= persist <= commit <= apply.
//
// The node drives it from its loop and its Ready hooks:
//   on_request()       per decoded client frame (the node has read the header and caught its timers up)
//   on_admin_request() the same for a frame of kind kAdminRequest (membership, leadership transfer)
//   finish_batch()     once the iteration's frames are in: one ReadIndex round for the reads among them
//   stamp_persisted()  after the Ready's entries are durable
//   on_applied()       per applied entry, then answer_applied() once per Ready: replies to the writes
//   serve_reads()      per Ready, after apply
//   fail_pending()     on losing leadership
//
// `Host` gives it the core, the state machine, a clock and the reply channels (a template parameter, so
// the node's calls are direct and a test drives it with a fake, in-process and deterministic):
//   raft::Role role(); raft::NodeId leader();
//   raft::ProposeResult propose(std::span<const std::byte> command); raft::Status read_index(uint64_t);
//   raft::Index applied_index(); std::optional<std::string_view> get(std::string_view key);
//   uint64_t now_ns();
//   uint32_t max_reply_payload(); std::byte* reserve_reply(uint32_t slot, uint32_t length) (nullptr when
//   the channel is full); void commit_reply(uint32_t slot, uint32_t length).
// and, for on_admin_request() only: raft::ProposeResult propose_conf_change(const raft::ConfChange&);
//   raft::Status transfer_leader(raft::NodeId); const raft::ConfState& conf_state();
//   raft::Index commit_index().
//
// Nothing here allocates once its queues have grown to their high-water marks, except a get's key longer
// than its reused slot's string capacity so far.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/kv/command.h"
#include "node/kv/result.h"
#include "node/process/client_wire.h"
#include "node/process/fifo.h"
#include "node/raft/core.h"

namespace shmraft::node {

template <class Host>
class ClientRequests {
 public:
  explicit ClientRequests(Host host) : host_(std::move(host)) {}

  // A client request whose header was read; `command` is the rest of the frame.
  void on_request(uint32_t slot, const RequestHeader& request, std::span<const std::byte> command) {
    kv::Command decoded;
    if (const kv::DecodeError error = kv::decode_command(command, decoded); error != kv::DecodeError::none) {
      reply(slot, response_to(request, ResponseStatus::bad_request), kv::to_string(error));
      return;
    }
    if (host_.role() != raft::Role::kLeader) {
      reply(slot, response_to(request, ResponseStatus::not_leader), std::string_view{});
      return;
    }
    if (decoded.op == kv::Op::append &&
        (decoded.bound == 0 || decoded.bound > max_value_in_reply(host_.max_reply_payload()))) {
      reply(slot, response_to(request, ResponseStatus::bad_request),
            "an append must declare a bound of 1.." +
                std::to_string(max_value_in_reply(host_.max_reply_payload())) +
                " bytes, what a get reply carries");
      return;
    }
    const uint64_t receive_ns = receive_time(request);
    if (decoded.op == kv::Op::get) {
      PendingRead& read = reads_.push_back();
      read.round = 0;
      read.slot = slot;
      read.request = request;
      read.receive_ns = receive_ns;
      read.key.assign(decoded.key);
      ++unassigned_reads_;
      return;
    }
    const raft::ProposeResult proposed = host_.propose(command);
    if (proposed.status != raft::Status::kOk) {
      const ResponseStatus status =
          proposed.status == raft::Status::kNotLeader ? ResponseStatus::not_leader : ResponseStatus::busy;
      reply(slot, response_to(request, status), raft::to_string(proposed.status));
      return;
    }
    PendingWrite& write = writes_.push_back();
    write = PendingWrite{proposed.index, proposed.term, slot, request, receive_ns, 0};
    ++unpersisted_writes_;
  }

  // An admin request whose header was read; `body` is the rest of the frame (an AdminCommand). A
  // membership change waits in the log like a write; the rest are answered at once.
  void on_admin_request(uint32_t slot, const RequestHeader& request, std::span<const std::byte> body) {
    const std::optional<AdminCommand> command = read_header<AdminCommand>(body);
    if (!command || body.size() != sizeof(AdminCommand) || command->version != kAdminVersion) {
      reply(slot, response_to(request, ResponseStatus::bad_request),
            "not an admin command of version " + std::to_string(kAdminVersion));
      return;
    }
    if (host_.role() != raft::Role::kLeader) {
      reply(slot, response_to(request, ResponseStatus::not_leader), std::string_view{});
      return;
    }
    const uint64_t receive_ns = receive_time(request);
    AdminReply answer;
    answer.leader = host_.leader();
    std::optional<raft::ConfChangeType> change;
    switch (command->op) {
      case AdminOp::kConfiguration: {
        const raft::ConfState& conf = host_.conf_state();
        answer.index = host_.commit_index();
        answer.voters = conf.voters.bits();
        answer.learners = conf.learners.bits();
        reply(slot, response_to(request, ResponseStatus::ok), answer);
        return;
      }
      case AdminOp::kTransfer:
        answer_admin(slot, request, host_.transfer_leader(command->node), answer);
        return;
      case AdminOp::kAddLearner:
        change = raft::ConfChangeType::kAddLearner;
        break;
      case AdminOp::kPromote:
        change = raft::ConfChangeType::kPromoteLearner;
        break;
      case AdminOp::kRemove:
        change = raft::ConfChangeType::kRemoveNode;
        break;
    }
    if (!change) {
      reply(slot, response_to(request, ResponseStatus::bad_request),
            "unknown admin operation " + std::to_string(static_cast<unsigned>(command->op)));
      return;
    }
    const raft::ProposeResult proposed = host_.propose_conf_change(raft::ConfChange{*change, command->node});
    if (proposed.status != raft::Status::kOk) {
      answer_admin(slot, request, proposed.status, answer);
      return;
    }
    PendingWrite& write = writes_.push_back();
    write = PendingWrite{proposed.index, proposed.term, slot, request, receive_ns, 0, true};
    ++unpersisted_writes_;
  }

  // The iteration's requests are all in: the next one reads the clock afresh, and the reads that came
  // in share one ReadIndex round (a read arriving later joins the next round).
  void finish_batch() {
    batch_receive_ns_ = 0;
    if (unassigned_reads_ > 0) start_read_round();
  }

  // The log is durable up to `last_persisted`.
  void stamp_persisted(raft::Index last_persisted, uint64_t now_ns) {
    while (unpersisted_writes_ > 0) {
      PendingWrite& write = writes_[writes_.size() - unpersisted_writes_];
      if (write.index > last_persisted) break;
      write.persist_ns = now_ns;
      --unpersisted_writes_;
    }
  }

  // `entry` was applied with `code`: the writes waiting for its index are done (answered by
  // answer_applied()).
  void on_applied(const raft::Entry& entry, kv::ResultCode code) {
    while (!writes_.empty() && writes_.front().index <= entry.index) {
      const PendingWrite& write = writes_.front();
      // Neither condition can hold today: only a leader has pending writes, at indices it appended in
      // its own term, it never installs a snapshot (so no entry of one goes unapplied), and it drops
      // them all when it steps down (fail_pending). Kept as a guard, so that a broken invariant answers
      // "not applied here" instead of acknowledging another leader's entry as this write.
      const bool lost = write.index < entry.index || write.term != entry.term;
      completed_.push_back({write, code, lost});
      if (writes_.size() <= unpersisted_writes_) --unpersisted_writes_;
      writes_.pop_front();
    }
  }

  // Answers the writes on_applied() completed, stamped as committed at `commit_ns` (when the Ready was
  // taken) and applied now.
  void answer_applied(uint64_t commit_ns) {
    if (completed_.empty()) return;
    const uint64_t apply_ns = host_.now_ns();
    for (const Completed& done : completed_) {
      ResponseHeader header =
          response_to(done.write.request, done.lost ? ResponseStatus::not_leader : ResponseStatus::ok);
      header.leader_receive_ns = done.write.receive_ns;
      header.leader_persist_ns = done.write.persist_ns;
      header.commit_ns = commit_ns;
      header.apply_ns = apply_ns;
      if (done.lost)
        reply(done.write.slot, header, "the entry was replaced by another leader's");
      else if (done.write.admin)
        reply(done.write.slot, header, AdminReply{0, {}, header.leader_hint, done.write.index, 0, 0});
      else
        reply(done.write.slot, header, kv::Result{done.code, {}, false});
    }
    completed_.clear();
  }

  // The Ready's confirmed ReadIndex rounds (stamped `now_ns`); serves every read whose round is
  // confirmed and whose index is applied, in order.
  void serve_reads(std::span<const raft::ReadState> states, uint64_t now_ns) {
    if (!states.empty()) confirm_reads(states, now_ns);
    if (!rounds_.empty()) serve_confirmed_reads();
  }

  // On losing leadership: answers every pending write and read.
  void fail_pending() {
    // Every pending write is already in this node's log and may still commit under the next leader;
    // reads never enter the log, so they can simply go elsewhere.
    for (; !writes_.empty(); writes_.pop_front())
      reply(writes_.front().slot, response_to(writes_.front().request, ResponseStatus::in_doubt),
            "leadership lost after the write was appended");
    for (; !reads_.empty(); reads_.pop_front())
      reply(reads_.front().slot, response_to(reads_.front().request, ResponseStatus::not_leader),
            "leadership lost");
    rounds_.clear();
    unpersisted_writes_ = 0;
    unassigned_reads_ = 0;
  }

  uint64_t replies() const noexcept { return replies_; }
  uint64_t dropped_replies() const noexcept { return dropped_replies_; }
  std::size_t pending_writes() const noexcept { return writes_.size(); }
  std::size_t pending_reads() const noexcept { return reads_.size(); }

 private:
  static constexpr std::size_t kMaxReason = 256;  // bytes of a reason that reach the client

  struct PendingWrite {
    raft::Index index = 0;
    raft::Term term = 0;
    uint32_t slot = 0;
    RequestHeader request;
    uint64_t receive_ns = 0;
    uint64_t persist_ns = 0;
    bool admin = false;  // a membership change: answered with an AdminReply
  };
  struct PendingRead {
    uint64_t round = 0;  // ReadIndex context; 0 until the batch's read_index call
    uint32_t slot = 0;
    RequestHeader request;
    uint64_t receive_ns = 0;
    std::string key;  // reused capacity: short keys never allocate after warm-up
  };
  struct ReadRound {
    uint64_t context = 0;
    raft::Index index = 0;
    uint64_t confirm_ns = 0;  // 0 until the leader's ReadIndex round is confirmed
  };
  struct Completed {
    PendingWrite write;
    kv::ResultCode code = kv::ResultCode::ok;
    bool lost = false;  // another entry took its index: the client must retry
  };

  // One clock read per batch of requests, shared by every request sent before it (one sent after it
  // came in later in the same drain: read again).
  uint64_t receive_time(const RequestHeader& request) {
    if (batch_receive_ns_ == 0 || batch_receive_ns_ < request.client_send_ns)
      batch_receive_ns_ = host_.now_ns();
    return batch_receive_ns_;
  }

  // An admin request the core answered with `status` at once.
  void answer_admin(uint32_t slot, const RequestHeader& request, raft::Status status, AdminReply answer) {
    ResponseStatus code = ResponseStatus::refused;
    if (status == raft::Status::kOk) code = ResponseStatus::ok;
    if (status == raft::Status::kNotLeader) code = ResponseStatus::not_leader;
    if (status == raft::Status::kTransferInProgress) code = ResponseStatus::busy;
    answer.status = static_cast<uint8_t>(status);
    reply(slot, response_to(request, code), answer);
  }

  void start_read_round() {
    const uint64_t context = next_read_context_++;
    const raft::Status status = host_.read_index(context);
    if (status == raft::Status::kOk) {
      for (std::size_t i = reads_.size() - unassigned_reads_; i < reads_.size(); ++i)
        reads_[i].round = context;
      rounds_.push_back() = ReadRound{context, 0, 0};
    } else {
      const ResponseStatus refusal =
          status == raft::Status::kNotLeader ? ResponseStatus::not_leader : ResponseStatus::busy;
      for (; unassigned_reads_ > 0; --unassigned_reads_) {
        reply(reads_.back().slot, response_to(reads_.back().request, refusal), raft::to_string(status));
        reads_.pop_back();
      }
    }
    unassigned_reads_ = 0;
  }

  void confirm_reads(std::span<const raft::ReadState> states, uint64_t now_ns) {
    for (const raft::ReadState& state : states) {
      // A confirmed round also vouches for every earlier round: leadership held at a later moment.
      for (std::size_t i = 0; i < rounds_.size() && rounds_[i].context <= state.context; ++i) {
        if (rounds_[i].confirm_ns != 0) continue;
        rounds_[i].index = state.index;
        rounds_[i].confirm_ns = now_ns;
      }
    }
  }

  void serve_confirmed_reads() {
    uint64_t apply_ns = 0;
    while (!rounds_.empty() && rounds_.front().confirm_ns != 0 &&
           rounds_.front().index <= host_.applied_index()) {
      const ReadRound round = rounds_.front();
      rounds_.pop_front();
      if (apply_ns == 0) apply_ns = host_.now_ns();
      while (!reads_.empty() && reads_.front().round == round.context) {
        const PendingRead& read = reads_.front();
        ResponseHeader header = response_to(read.request, ResponseStatus::ok);
        header.leader_receive_ns = read.receive_ns;
        header.leader_persist_ns = read.receive_ns;
        header.commit_ns = round.confirm_ns;
        header.apply_ns = apply_ns;
        reply(read.slot, header, kv::get_result(host_.get(read.key)));
        reads_.pop_front();
      }
    }
  }

  // Writes a reply carrying a KV result (status ok) or a reason (any other status); a full reply channel
  // is counted as a drop (the client times out and retries).
  void reply(uint32_t slot, const ResponseHeader& header, const kv::Result& result) {
    const std::size_t length = sizeof(ResponseHeader) + kv::encoded_size(result);
    if (length > host_.max_reply_payload()) {
      ResponseHeader refused = header;
      refused.status = ResponseStatus::bad_request;
      reply(slot, refused, "the result does not fit in a response frame");
      return;
    }
    std::byte* out = host_.reserve_reply(slot, static_cast<uint32_t>(length));
    if (out == nullptr) {
      ++dropped_replies_;
      return;
    }
    write_header(header, out);
    kv::encode_result(result, {out + sizeof(ResponseHeader), length - sizeof(ResponseHeader)});
    host_.commit_reply(slot, static_cast<uint32_t>(length));
    ++replies_;
  }

  void reply(uint32_t slot, const ResponseHeader& header, const AdminReply& answer) {
    constexpr uint32_t length = sizeof(ResponseHeader) + sizeof(AdminReply);
    std::byte* out = host_.reserve_reply(slot, length);
    if (out == nullptr) {
      ++dropped_replies_;
      return;
    }
    write_header(header, out);
    write_header(answer, out + sizeof(ResponseHeader));
    host_.commit_reply(slot, length);
    ++replies_;
  }

  void reply(uint32_t slot, const ResponseHeader& header, std::string_view reason) {
    const std::size_t length = sizeof(ResponseHeader) + std::min<std::size_t>(reason.size(), kMaxReason);
    std::byte* out = host_.reserve_reply(slot, static_cast<uint32_t>(length));
    if (out == nullptr) {
      ++dropped_replies_;
      return;
    }
    write_header(header, out);
    if (length > sizeof(ResponseHeader))
      std::memcpy(out + sizeof(ResponseHeader), reason.data(), length - sizeof(ResponseHeader));
    host_.commit_reply(slot, static_cast<uint32_t>(length));
    ++replies_;
  }

  ResponseHeader response_to(const RequestHeader& request, ResponseStatus status) {
    ResponseHeader header;
    header.request_id = request.request_id;
    header.client_send_ns = request.client_send_ns;
    header.generation = request.generation;
    header.leader_hint = host_.leader();
    header.status = status;
    return header;
  }

  Host host_;
  uint64_t batch_receive_ns_ = 0;  // when this batch's client requests were read (0: none yet)
  uint64_t replies_ = 0;
  uint64_t dropped_replies_ = 0;

  Fifo<PendingWrite> writes_;
  std::size_t unpersisted_writes_ = 0;  // the newest writes_ not yet stamped with persist_ns
  Fifo<PendingRead> reads_;
  std::size_t unassigned_reads_ = 0;  // the newest reads_ waiting for the batch's read_index
  Fifo<ReadRound> rounds_;
  uint64_t next_read_context_ = 1;
  std::vector<Completed> completed_;  // reused per Ready
};

}  // namespace shmraft::node
