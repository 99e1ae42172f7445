// A ClientGroup reads a late ok to an earlier attempt at a node its current attempt has left (review
// item 3): before, the group looked only at the rings of the nodes its current attempts went to, so such
// an ok lay unread until the client wrote to that node again, or the operation gave up as unknown.
// Such an ok does not make its node the client's leader again: the node may be dead, its successor
// announced since (the next request went to the dead node and waited out an attempt timeout: a 255 ms
// window in `bench --transport tcp --failover`).
// No cluster: this process plays nodes 1 and 2 on a segment of its own (their liveness claims, the
// leader record, their rings), so the order of events is exact.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>

#include "ipc/segment.h"
#include "launcher/client/client_group.h"
#include "node/kv/result.h"
#include "node/process/client_wire.h"
#include "tests/benchcmd/own_segment.h"

namespace shmraft {
namespace {

using namespace std::chrono_literals;

// The request header of the one request waiting in `slot`'s ring to `node`, consumed.
node::RequestHeader take_request(ipc::Segment& segment, uint32_t slot, uint32_t node) {
  ipc::RingConsumer ring = segment.request_consumer(slot, node);
  std::optional<node::RequestHeader> header;
  ring.drain(
      [&](const ipc::Frame& frame) { header = node::read_header<node::RequestHeader>(frame.payload); });
  EXPECT_TRUE(header) << "no request at node " << node;
  return header.value_or(node::RequestHeader{});
}

client::ClientOptions options() {
  client::ClientOptions options;  // a session: a write moves to a newly announced leader at once
  options.attempt_timeout = 10s;  // no timer fires during the test: only the reply can end the put
  options.operation_timeout = 20s;
  return options;
}

// Node `node` answers the request `header` names: ok.
void reply_ok(ipc::Segment& segment, uint32_t node, uint32_t slot, const node::RequestHeader& header) {
  std::array<std::byte, 16> result{};
  const std::size_t result_size =
      kv::encode_result(kv::Result{.code = kv::ResultCode::ok, .value = {}}, result);
  node::ResponseHeader reply;
  reply.request_id = header.request_id;
  reply.client_send_ns = header.client_send_ns;
  reply.generation = header.generation;
  reply.leader_hint = 2;
  ipc::RingProducer to_client = segment.response_producer(node, slot);
  std::byte* out = to_client.try_reserve(static_cast<uint32_t>(sizeof reply + result_size));
  ASSERT_NE(out, nullptr);
  std::memcpy(out, &reply, sizeof reply);
  std::memcpy(out + sizeof reply, result.data(), result_size);
  to_client.commit(node::kResponseFrame, static_cast<uint32_t>(sizeof reply + result_size));
  to_client.publish();  // rings the group's reply bell
}

// Client 0 of `group` puts "k" (tag 7): the first attempt goes to leader node 1, which reads it and does
// not answer yet; then node 2 is announced leader, and the second attempt goes there, which node 2 reads
// and never answers. Returns the first attempt's header.
node::RequestHeader put_at_1_then_2(ipc::Segment& segment, client::ClientGroup& group,
                                    const client::ClientGroup::Callback& on_done) {
  client::AsyncClient& client = group.client(0);
  EXPECT_TRUE(client.submit({kv::Op::put, "k", "v", {}}, 7));
  group.wait(on_done, 1ms);
  const node::RequestHeader first = take_request(segment, client.slot(), 1);
  EXPECT_TRUE(segment.announce_leader(2, 2));
  group.wait(on_done, 1ms);
  take_request(segment, client.slot(), 2);
  return first;
}

void wait_up_to_2s(client::ClientGroup& group, const client::ClientGroup::Callback& on_done,
                   const std::optional<client::Completion>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (!done && std::chrono::steady_clock::now() < deadline) group.wait(on_done, 10ms);
}

TEST(ClientGroup, ALateOkFromANodeTheCurrentAttemptLeftIsRead) {
  test::OwnSegment own{"late-reply"};
  ipc::Segment& segment = own.segment;
  ipc::LivenessClaim node1 = segment.claim_liveness(1);
  ipc::LivenessClaim node2 = segment.claim_liveness(2);
  ASSERT_TRUE(segment.announce_leader(1, 1));

  client::ClientGroup group(own.name, 2, options());
  client::AsyncClient& client = group.client(0);
  ASSERT_EQ(client.leader(), 1u);
  std::optional<client::Completion> done;
  const client::ClientGroup::Callback on_done = [&](uint32_t, const client::Completion& c) { done = c; };
  const node::RequestHeader first = put_at_1_then_2(segment, group, on_done);
  ASSERT_FALSE(done);

  // Node 1 answers the first attempt: ok (it committed the put before it lost leadership).
  reply_ok(segment, 1, client.slot(), first);
  wait_up_to_2s(group, on_done, done);
  ASSERT_TRUE(done) << "the ok from node 1 was not read within 2 s (the attempt at node 2 waits 10 s)";
  EXPECT_EQ(done->tag, 7u);
  EXPECT_EQ(done->status, client::Status::ok);
  EXPECT_EQ(done->attempts, 2u);
}

TEST(ClientGroup, ALateOkFromADeadLeaderDoesNotNameItLeaderAgain) {
  test::OwnSegment own{"late-ok-leader"};
  ipc::Segment& segment = own.segment;
  std::optional<ipc::LivenessClaim> node1 = segment.claim_liveness(1);
  ipc::LivenessClaim node2 = segment.claim_liveness(2);
  ASSERT_TRUE(segment.announce_leader(1, 1));

  client::ClientGroup group(own.name, 2, options());
  client::AsyncClient& client = group.client(0);
  std::optional<client::Completion> done;
  const client::ClientGroup::Callback on_done = [&](uint32_t, const client::Completion& c) { done = c; };
  const node::RequestHeader first = put_at_1_then_2(segment, group, on_done);
  // Node 1 dies with its ok to the first attempt in its ring to the client.
  reply_ok(segment, 1, client.slot(), first);
  node1.reset();
  wait_up_to_2s(group, on_done, done);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, client::Status::ok);

  EXPECT_EQ(client.leader(), 2u) << "the late ok from dead node 1 named it leader";
  // The next request goes to node 2, not to the dead node.
  ASSERT_TRUE(client.submit({kv::Op::put, "k2", "v", {}}, 8));
  group.wait(on_done, 1ms);
  EXPECT_FALSE(segment.request_consumer(client.slot(), 1).has_frames()) << "the next put went to dead node 1";
  take_request(segment, client.slot(), 2);
}

}  // namespace
}  // namespace shmraft
