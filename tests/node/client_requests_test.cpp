// ClientRequests in-process: a fake core, state machine, clock and reply channel stand in for the node,
// so each test drives the leader's bookkeeping of client requests step by step and reads every reply.
// Label `core`: deterministic, no processes, no rings.
#include "node/process/client_requests.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace shmraft::node {
namespace {

struct Reply {
  uint32_t slot = 0;
  ResponseHeader header;
  kv::Result result;                // status ok: the decoded result (its value copied into `text`)
  std::string text;                 // status ok: the result's value; otherwise the reason
  std::optional<AdminReply> admin;  // a reply to an admin request
};

// What the fake host shows ClientRequests; each test sets it up and changes it between steps.
struct World {
  raft::Role role = raft::Role::kLeader;
  raft::NodeId leader = 1;
  raft::Term term = 1;
  raft::Index last_index = 0;
  raft::Status propose_status = raft::Status::kOk;
  raft::Status read_index_status = raft::Status::kOk;
  std::vector<uint64_t> read_contexts;  // every read_index call, in order
  raft::Index applied = 0;
  std::map<std::string, std::string, std::less<>> values;
  uint64_t clock_ns = 1000;
  uint32_t max_reply = 4096;
  bool channel_full = false;
  std::vector<std::byte> frame;  // the reserved reply frame
  std::vector<Reply> replies;
  // Admin requests
  raft::Status conf_change_status = raft::Status::kOk;
  std::vector<raft::ConfChange> conf_changes;  // every proposed change, in order
  raft::Status transfer_status = raft::Status::kOk;
  std::vector<raft::NodeId> transfers;
  raft::ConfState conf;
  raft::Index commit = 0;
  bool admin_replies = false;  // decode replies as AdminReply
};

class FakeHost {
 public:
  explicit FakeHost(World& world) : w_(&world) {}

  raft::Role role() const { return w_->role; }
  raft::NodeId leader() const { return w_->leader; }
  raft::ProposeResult propose(std::span<const std::byte>) {
    if (w_->propose_status != raft::Status::kOk) return {w_->propose_status, 0, 0};
    return {raft::Status::kOk, ++w_->last_index, w_->term};
  }
  raft::Status read_index(uint64_t context) {
    w_->read_contexts.push_back(context);
    return w_->read_index_status;
  }
  raft::ProposeResult propose_conf_change(const raft::ConfChange& change) {
    w_->conf_changes.push_back(change);
    if (w_->conf_change_status != raft::Status::kOk) return {w_->conf_change_status, 0, 0};
    return {raft::Status::kOk, ++w_->last_index, w_->term};
  }
  raft::Status transfer_leader(raft::NodeId target) {
    w_->transfers.push_back(target);
    return w_->transfer_status;
  }
  const raft::ConfState& conf_state() const { return w_->conf; }
  raft::Index commit_index() const { return w_->commit; }
  raft::Index applied_index() const { return w_->applied; }
  std::optional<std::string_view> get(std::string_view key) const {
    const auto it = w_->values.find(key);
    if (it == w_->values.end()) return std::nullopt;
    return std::string_view(it->second);
  }
  uint64_t now_ns() const { return w_->clock_ns; }
  uint32_t max_reply_payload() const { return w_->max_reply; }
  std::byte* reserve_reply(uint32_t, uint32_t length) {
    if (w_->channel_full) return nullptr;
    w_->frame.assign(length, std::byte{0});
    return w_->frame.data();
  }
  void commit_reply(uint32_t slot, uint32_t length) {
    EXPECT_EQ(length, w_->frame.size());
    Reply reply;
    reply.slot = slot;
    reply.header = *read_header<ResponseHeader>(w_->frame);
    const std::span<const std::byte> body =
        std::span<const std::byte>(w_->frame).subspan(sizeof(ResponseHeader));
    if (w_->admin_replies && body.size() == sizeof(AdminReply)) {
      reply.admin = read_header<AdminReply>(body);
    } else if (reply.header.status == ResponseStatus::ok) {
      EXPECT_TRUE(kv::decode_result(body, reply.result));
      reply.text.assign(reply.result.value);
      reply.result.value = {};
    } else {
      reply.text.assign(reinterpret_cast<const char*>(body.data()), body.size());
    }
    w_->replies.push_back(reply);
  }

 private:
  World* w_;
};

class ClientRequestsTest : public ::testing::Test {
 protected:
  // Sends a client frame carrying `command` on `slot` with `request_id`, stamped as sent at `send_ns`.
  void request(uint32_t slot, uint64_t request_id, const kv::Command& command, uint64_t send_ns = 0) {
    std::vector<std::byte> bytes(kv::encoded_size(command));
    kv::encode_command(command, bytes);
    RequestHeader header;
    header.request_id = request_id;
    header.client_send_ns = send_ns;
    header.generation = 7;
    requests.on_request(slot, header, bytes);
  }
  void put(uint32_t slot, uint64_t request_id, std::string_view key, std::string_view value,
           uint64_t send_ns = 0) {
    request(slot, request_id, kv::Command{kv::kNoSession, 0, kv::Op::put, key, value, {}, 0}, send_ns);
  }
  void admin(uint32_t slot, uint64_t request_id, AdminOp op, uint32_t node) {
    world.admin_replies = true;
    AdminCommand command;
    command.op = op;
    command.node = node;
    std::vector<std::byte> bytes(sizeof command);
    write_header(command, bytes.data());
    RequestHeader header;
    header.request_id = request_id;
    header.generation = 7;
    header.kind = kAdminRequest;
    requests.on_admin_request(slot, header, bytes);
  }
  void get(uint32_t slot, uint64_t request_id, std::string_view key) {
    request(slot, request_id, kv::Command{kv::kNoSession, 0, kv::Op::get, key, {}, {}, 0});
  }
  // The node's Ready: entries [from, to] of `term` committed at `commit_ns`, applied with `code`.
  void apply(raft::Index from, raft::Index to, raft::Term term, uint64_t commit_ns,
             kv::ResultCode code = kv::ResultCode::ok) {
    for (raft::Index index = from; index <= to; ++index) {
      requests.on_applied(raft::Entry{term, index, raft::EntryType::kNormal, {}}, code);
      world.applied = index;
    }
    requests.answer_applied(commit_ns);
  }
  void confirm(raft::Index index, uint64_t context, uint64_t now_ns) {
    const raft::ReadState state{index, context};
    requests.serve_reads({&state, 1}, now_ns);
  }
  std::vector<uint64_t> answered_ids() const {
    std::vector<uint64_t> ids;
    for (const Reply& reply : world.replies) ids.push_back(reply.header.request_id);
    return ids;
  }

  World world;
  ClientRequests<FakeHost> requests{FakeHost(world)};
};

TEST_F(ClientRequestsTest, WriteIsAnsweredOnceAfterApplyWithItsResultAndOrderedPhaseStamps) {
  world.clock_ns = 100;
  put(3, 41, "k", "v");
  requests.finish_batch();
  EXPECT_TRUE(world.replies.empty());
  EXPECT_TRUE(world.read_contexts.empty()) << "a batch without reads starts no ReadIndex round";

  requests.stamp_persisted(1, 200);
  requests.serve_reads({}, 250);
  EXPECT_TRUE(world.replies.empty()) << "persisted but not applied: no answer yet";

  world.clock_ns = 400;
  apply(1, 1, 1, 300, kv::ResultCode::cas_failed);
  ASSERT_EQ(world.replies.size(), 1u);
  const Reply& reply = world.replies[0];
  EXPECT_EQ(reply.slot, 3u);
  EXPECT_EQ(reply.header.request_id, 41u);
  EXPECT_EQ(reply.header.generation, 7u);
  EXPECT_EQ(reply.header.leader_hint, 1u);
  EXPECT_EQ(reply.header.status, ResponseStatus::ok);
  EXPECT_EQ(reply.result.code, kv::ResultCode::cas_failed) << "the reply carries the applied result";
  EXPECT_EQ(reply.header.leader_receive_ns, 100u);
  EXPECT_EQ(reply.header.leader_persist_ns, 200u);
  EXPECT_EQ(reply.header.commit_ns, 300u);
  EXPECT_EQ(reply.header.apply_ns, 400u);
  EXPECT_LE(reply.header.leader_receive_ns, reply.header.leader_persist_ns);
  EXPECT_LE(reply.header.leader_persist_ns, reply.header.commit_ns);
  EXPECT_LE(reply.header.commit_ns, reply.header.apply_ns);

  apply(2, 3, 1, 500);
  requests.fail_pending();
  EXPECT_EQ(world.replies.size(), 1u) << "answered once, never again";
  EXPECT_EQ(requests.pending_writes(), 0u);
  EXPECT_EQ(requests.replies(), 1u);
}

TEST_F(ClientRequestsTest, WritesOfOneBatchShareTheReceiveStampAndAreAnsweredInLogOrder) {
  world.clock_ns = 100;
  put(1, 1, "a", "1");
  world.clock_ns = 150;
  put(2, 2, "b", "2");                   // sent before the batch's clock read: same stamp
  put(3, 3, "c", "3", /*send_ns=*/120);  // sent after it: the clock is read again
  requests.finish_batch();
  world.clock_ns = 160;
  put(4, 4, "d", "4");  // the next batch
  requests.stamp_persisted(3, 200);
  requests.stamp_persisted(4, 210);
  world.clock_ns = 400;
  apply(1, 4, 1, 300);
  ASSERT_EQ(answered_ids(), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(world.replies[0].header.leader_receive_ns, 100u);
  EXPECT_EQ(world.replies[1].header.leader_receive_ns, 100u);
  EXPECT_EQ(world.replies[2].header.leader_receive_ns, 150u);
  EXPECT_EQ(world.replies[3].header.leader_receive_ns, 160u);
  EXPECT_EQ(world.replies[2].header.leader_persist_ns, 200u);
  EXPECT_EQ(world.replies[3].header.leader_persist_ns, 210u);
}

TEST_F(ClientRequestsTest, WriteWhoseIndexAnotherTermsEntryTookIsAnsweredLostNotOk) {
  put(1, 10, "k", "v");  // index 1, term 1
  put(1, 11, "k", "w");  // index 2, term 1
  requests.stamp_persisted(2, 200);
  apply(1, 1, 2, 300);  // index 1 holds term 2's entry: write 10 was replaced
  ASSERT_EQ(world.replies.size(), 1u);
  EXPECT_EQ(world.replies[0].header.request_id, 10u);
  EXPECT_EQ(world.replies[0].header.status, ResponseStatus::not_leader);
  EXPECT_EQ(world.replies[0].text, "the entry was replaced by another leader's");

  apply(2, 2, 1, 400);
  ASSERT_EQ(world.replies.size(), 2u);
  EXPECT_EQ(world.replies[1].header.request_id, 11u);
  EXPECT_EQ(world.replies[1].header.status, ResponseStatus::ok);
}

TEST_F(ClientRequestsTest, WriteWhoseIndexWasNeverAppliedIsAnsweredLost) {
  put(1, 10, "k", "v");                                                                      // index 1
  requests.on_applied(raft::Entry{1, 2, raft::EntryType::kNormal, {}}, kv::ResultCode::ok);  // 1 skipped
  requests.answer_applied(300);
  ASSERT_EQ(world.replies.size(), 1u);
  EXPECT_EQ(world.replies[0].header.status, ResponseStatus::not_leader);
}

TEST_F(ClientRequestsTest, LosingLeadershipAnswersEveryPendingRequestExactlyOnce) {
  put(1, 1, "a", "1");  // index 1
  put(2, 2, "b", "2");  // index 2
  get(3, 3, "a");
  requests.finish_batch();  // round 1
  get(4, 4, "b");           // not yet in a round
  requests.stamp_persisted(1, 200);
  ASSERT_TRUE(world.replies.empty());

  world.role = raft::Role::kFollower;
  world.leader = 2;
  requests.fail_pending();
  ASSERT_EQ(answered_ids(), (std::vector<uint64_t>{1, 2, 3, 4}));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(world.replies[i].header.status, ResponseStatus::in_doubt) << "write " << i + 1;
    EXPECT_EQ(world.replies[i].text, "leadership lost after the write was appended");
  }
  for (int i = 2; i < 4; ++i) EXPECT_EQ(world.replies[i].header.status, ResponseStatus::not_leader);
  for (const Reply& reply : world.replies) EXPECT_EQ(reply.header.leader_hint, 2u);
  EXPECT_EQ(requests.pending_writes(), 0u);
  EXPECT_EQ(requests.pending_reads(), 0u);

  // What the old term left behind commits and confirms later: nothing is answered again.
  requests.finish_batch();
  apply(1, 2, 1, 300);
  confirm(2, 1, 400);
  requests.fail_pending();
  EXPECT_EQ(world.replies.size(), 4u);
  EXPECT_EQ(world.read_contexts, (std::vector<uint64_t>{1})) << "the read never put in a round stays out";
}

TEST_F(ClientRequestsTest, ReadsWaitForTheirRoundsConfirmationAndForApplyAndAreServedInOrder) {
  world.values["a"] = "A";
  world.clock_ns = 100;
  get(1, 1, "a");
  get(2, 2, "missing");
  requests.finish_batch();
  ASSERT_EQ(world.read_contexts, (std::vector<uint64_t>{1}));
  world.clock_ns = 150;
  get(3, 3, "a");  // arrives after round 1 started: joins round 2
  requests.finish_batch();
  ASSERT_EQ(world.read_contexts, (std::vector<uint64_t>{1, 2}));

  world.applied = 4;
  requests.serve_reads({}, 200);
  EXPECT_TRUE(world.replies.empty()) << "no round confirmed";
  confirm(5, 1, 300);
  EXPECT_TRUE(world.replies.empty()) << "round 1 confirmed at index 5, applied only 4";

  world.clock_ns = 500;
  world.applied = 5;
  world.values["a"] = "A5";
  requests.serve_reads({}, 400);
  ASSERT_EQ(answered_ids(), (std::vector<uint64_t>{1, 2})) << "round 2 is not confirmed yet";
  EXPECT_EQ(world.replies[0].result.code, kv::ResultCode::value);
  EXPECT_EQ(world.replies[0].text, "A5") << "read as of the applied index";
  EXPECT_EQ(world.replies[1].result.code, kv::ResultCode::absent);
  for (const Reply& reply : world.replies) {
    EXPECT_EQ(reply.header.status, ResponseStatus::ok);
    EXPECT_EQ(reply.header.leader_receive_ns, 100u);
    EXPECT_EQ(reply.header.leader_persist_ns, 100u) << "a read persists nothing";
    EXPECT_EQ(reply.header.commit_ns, 300u) << "when its round was confirmed";
    EXPECT_EQ(reply.header.apply_ns, 500u);
  }

  world.clock_ns = 700;
  confirm(5, 2, 600);
  ASSERT_EQ(answered_ids(), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(world.replies[2].header.leader_receive_ns, 150u);
  EXPECT_EQ(world.replies[2].header.commit_ns, 600u);
  EXPECT_EQ(world.replies[2].header.apply_ns, 700u);
  EXPECT_EQ(requests.pending_reads(), 0u);
}

TEST_F(ClientRequestsTest, ConfirmingALaterRoundConfirmsTheEarlierOnes) {
  get(1, 1, "a");
  requests.finish_batch();  // round 1
  get(2, 2, "a");
  requests.finish_batch();  // round 2
  confirm(0, 2, 300);       // round 1's confirmation was lost; round 2's vouches for it
  ASSERT_EQ(answered_ids(), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(world.replies[0].header.commit_ns, 300u);
}

TEST_F(ClientRequestsTest, RefusedRequestsAreAnsweredAtOnceAndLeaveNothingPending) {
  world.role = raft::Role::kFollower;
  world.leader = 3;
  put(1, 1, "k", "v");
  world.role = raft::Role::kLeader;
  world.propose_status = raft::Status::kTransferInProgress;
  put(1, 2, "k", "v");
  world.read_index_status = raft::Status::kNotLeader;
  get(1, 3, "k");
  get(1, 4, "k");
  requests.finish_batch();
  const std::byte garbage[] = {std::byte{0xff}};
  requests.on_request(1, RequestHeader{5, 0, 0, 0}, garbage);

  ASSERT_EQ(answered_ids(), (std::vector<uint64_t>{1, 2, 4, 3, 5}));
  EXPECT_EQ(world.replies[0].header.status, ResponseStatus::not_leader);
  EXPECT_EQ(world.replies[0].header.leader_hint, 3u);
  EXPECT_EQ(world.replies[1].header.status, ResponseStatus::busy);
  EXPECT_EQ(world.replies[2].header.status, ResponseStatus::not_leader);
  EXPECT_EQ(world.replies[3].header.status, ResponseStatus::not_leader);
  EXPECT_EQ(world.replies[4].header.status, ResponseStatus::bad_request);
  EXPECT_EQ(world.replies[4].text, kv::to_string(kv::DecodeError::bad_op));
  EXPECT_EQ(requests.pending_writes(), 0u);
  EXPECT_EQ(requests.pending_reads(), 0u);
}

TEST_F(ClientRequestsTest, AppendMustDeclareABoundAGetReplyCanCarry) {
  const uint64_t limit = max_value_in_reply(world.max_reply);
  request(1, 1, kv::Command{kv::kNoSession, 0, kv::Op::append, "k", "v", {}, 0});
  request(1, 2, kv::Command{kv::kNoSession, 0, kv::Op::append, "k", "v", {}, limit + 1});
  request(1, 3, kv::Command{kv::kNoSession, 0, kv::Op::append, "k", "v", {}, limit});
  ASSERT_EQ(answered_ids(), (std::vector<uint64_t>{1, 2}));
  for (const Reply& reply : world.replies) {
    EXPECT_EQ(reply.header.status, ResponseStatus::bad_request);
    EXPECT_EQ(reply.text, "an append must declare a bound of 1.." + std::to_string(limit) +
                              " bytes, what a get reply carries");
  }
  EXPECT_EQ(world.last_index, 1u) << "only the bounded append is proposed";
  EXPECT_EQ(requests.pending_writes(), 1u);
}

TEST_F(ClientRequestsTest, RetriedRequestIdIsAnsweredOncePerFrameAndNeverForTheAbandonedCopy) {
  const kv::Command command{42, 1, kv::Op::put, "k", "v", {}, 0};  // a session's command 1
  request(1, 9, command);                                          // index 1, term 1
  world.role = raft::Role::kFollower;
  requests.fail_pending();  // answered in doubt
  ASSERT_EQ(world.replies.size(), 1u);
  EXPECT_EQ(world.replies[0].header.status, ResponseStatus::in_doubt);

  world.role = raft::Role::kLeader;
  world.term = 3;
  request(1, 9, command);  // the client's retry, same request id: index 2, term 3
  apply(1, 1, 1, 300);     // the first copy committed after all: already answered
  EXPECT_EQ(world.replies.size(), 1u);
  apply(2, 2, 3, 400);  // the retry (the session table answers it from the session)
  ASSERT_EQ(world.replies.size(), 2u);
  EXPECT_EQ(world.replies[1].header.request_id, 9u);
  EXPECT_EQ(world.replies[1].header.status, ResponseStatus::ok);
  apply(3, 3, 3, 500);
  requests.fail_pending();
  EXPECT_EQ(world.replies.size(), 2u);
}

TEST_F(ClientRequestsTest, FullReplyChannelCountsADropAndLosesNoBookkeeping) {
  put(1, 1, "a", "1");
  put(1, 2, "b", "2");
  get(2, 3, "a");
  requests.finish_batch();
  requests.stamp_persisted(2, 200);

  world.channel_full = true;
  apply(1, 1, 1, 300);
  EXPECT_TRUE(world.replies.empty());
  EXPECT_EQ(requests.dropped_replies(), 1u);
  EXPECT_EQ(requests.replies(), 0u);
  EXPECT_EQ(requests.pending_writes(), 1u) << "the dropped write is done; the next one still waits";

  world.channel_full = false;
  apply(2, 2, 1, 400);
  confirm(2, 1, 500);
  ASSERT_EQ(answered_ids(), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(world.replies[0].header.leader_persist_ns, 200u);
  EXPECT_EQ(requests.dropped_replies(), 1u);
  EXPECT_EQ(requests.replies(), 2u);
  EXPECT_EQ(requests.pending_writes(), 0u);
  EXPECT_EQ(requests.pending_reads(), 0u);
}

TEST_F(ClientRequestsTest, ResultLargerThanAReplyFrameIsAnsweredBadRequest) {
  world.values["big"] = std::string(200, 'x');
  world.max_reply = sizeof(ResponseHeader) + 100;
  get(1, 1, "big");
  requests.finish_batch();
  world.applied = 1;
  confirm(1, 1, 300);
  ASSERT_EQ(world.replies.size(), 1u);
  EXPECT_EQ(world.replies[0].header.status, ResponseStatus::bad_request);
  EXPECT_EQ(world.replies[0].text, "the result does not fit in a response frame");
}

}  // namespace
}  // namespace shmraft::node

namespace shmraft::node {
namespace {

TEST_F(ClientRequestsTest, MembershipChangeIsAnsweredOnlyOnceItsEntryIsApplied) {
  admin(2, 11, AdminOp::kAddLearner, 4);
  admin(2, 12, AdminOp::kPromote, 4);
  admin(2, 13, AdminOp::kRemove, 5);
  ASSERT_EQ(world.conf_changes.size(), 3u);
  EXPECT_EQ(world.conf_changes[0], (raft::ConfChange{raft::ConfChangeType::kAddLearner, 4}));
  EXPECT_EQ(world.conf_changes[1], (raft::ConfChange{raft::ConfChangeType::kPromoteLearner, 4}));
  EXPECT_EQ(world.conf_changes[2], (raft::ConfChange{raft::ConfChangeType::kRemoveNode, 5}));
  requests.stamp_persisted(3, 10);
  EXPECT_TRUE(world.replies.empty()) << "proposed, not committed: no answer yet";

  for (raft::Index index = 1; index <= 3; ++index)
    requests.on_applied(raft::Entry{1, index, raft::EntryType::kConfChange, {}}, kv::ResultCode::ok);
  requests.answer_applied(20);
  ASSERT_EQ(world.replies.size(), 3u);
  for (raft::Index index = 1; index <= 3; ++index) {
    const Reply& reply = world.replies[index - 1];
    EXPECT_EQ(reply.header.request_id, 10 + index);
    EXPECT_EQ(reply.header.status, ResponseStatus::ok);
    ASSERT_TRUE(reply.admin);
    EXPECT_EQ(reply.admin->status, 0);
    EXPECT_EQ(reply.admin->index, index) << "the reply names where the change sits in the log";
  }
}

TEST_F(ClientRequestsTest, RefusedMembershipChangeIsAnsweredAtOnceWithTheCoresStatus) {
  for (const raft::Status refusal :
       {raft::Status::kAlreadyMember, raft::Status::kConfChangePending, raft::Status::kRemovesLastVoter,
        raft::Status::kNotLearner, raft::Status::kLearnerBehind, raft::Status::kNotMember,
        raft::Status::kInvalidArgument}) {
    world.replies.clear();
    world.conf_change_status = refusal;
    admin(1, 5, AdminOp::kRemove, 1);
    ASSERT_EQ(world.replies.size(), 1u) << raft::to_string(refusal);
    EXPECT_EQ(world.replies[0].header.status, ResponseStatus::refused) << raft::to_string(refusal);
    ASSERT_TRUE(world.replies[0].admin);
    EXPECT_EQ(world.replies[0].admin->status, static_cast<uint8_t>(refusal));
  }
  EXPECT_EQ(requests.pending_writes(), 0u) << "a refused change leaves nothing waiting";

  world.replies.clear();
  world.conf_change_status = raft::Status::kTransferInProgress;
  admin(1, 6, AdminOp::kAddLearner, 4);
  ASSERT_EQ(world.replies.size(), 1u);
  EXPECT_EQ(world.replies[0].header.status, ResponseStatus::busy) << "a transfer ends: worth a retry";
}

TEST_F(ClientRequestsTest, AdminRequestToAFollowerIsRedirectedToTheLeader) {
  world.role = raft::Role::kFollower;
  world.leader = 3;
  admin(1, 9, AdminOp::kAddLearner, 4);
  ASSERT_EQ(world.replies.size(), 1u);
  EXPECT_EQ(world.replies[0].header.status, ResponseStatus::not_leader);
  EXPECT_EQ(world.replies[0].header.leader_hint, 3u);
  EXPECT_TRUE(world.conf_changes.empty()) << "only a leader proposes";
}

TEST_F(ClientRequestsTest, ConfigurationAndTransferAreAnsweredAtOnce) {
  world.conf.voters.insert(1);
  world.conf.voters.insert(2);
  world.conf.learners.insert(4);
  world.commit = 17;
  admin(1, 1, AdminOp::kConfiguration, 0);
  world.transfer_status = raft::Status::kOk;
  admin(1, 2, AdminOp::kTransfer, 2);
  world.transfer_status = raft::Status::kInvalidArgument;
  admin(1, 3, AdminOp::kTransfer, 6);
  ASSERT_EQ(world.replies.size(), 3u);
  ASSERT_TRUE(world.replies[0].admin);
  EXPECT_EQ(world.replies[0].header.status, ResponseStatus::ok);
  EXPECT_EQ(world.replies[0].admin->voters, world.conf.voters.bits());
  EXPECT_EQ(world.replies[0].admin->learners, world.conf.learners.bits());
  EXPECT_EQ(world.replies[0].admin->index, 17u);
  EXPECT_EQ(world.replies[0].admin->leader, 1u);
  EXPECT_EQ(world.transfers, (std::vector<raft::NodeId>{2, 6}));
  EXPECT_EQ(world.replies[1].header.status, ResponseStatus::ok);
  EXPECT_EQ(world.replies[2].header.status, ResponseStatus::refused);
  EXPECT_EQ(requests.pending_writes(), 0u);
}

TEST_F(ClientRequestsTest, MalformedAdminCommandIsABadRequest) {
  RequestHeader header;
  header.kind = kAdminRequest;
  const std::vector<std::byte> short_body(3);
  requests.on_admin_request(1, header, short_body);
  AdminCommand wrong_version;
  wrong_version.version = 9;
  std::vector<std::byte> body(sizeof wrong_version);
  write_header(wrong_version, body.data());
  requests.on_admin_request(1, header, body);
  AdminCommand unknown;
  unknown.op = static_cast<AdminOp>(77);
  write_header(unknown, body.data());
  requests.on_admin_request(1, header, body);
  ASSERT_EQ(world.replies.size(), 3u);
  for (const Reply& reply : world.replies) EXPECT_EQ(reply.header.status, ResponseStatus::bad_request);
  EXPECT_NE(world.replies[2].text.find("unknown admin operation 77"), std::string::npos)
      << world.replies[2].text;
}

}  // namespace
}  // namespace shmraft::node
