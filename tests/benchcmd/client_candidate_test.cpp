// Clients resend to an announced candidate (issue 13): when their leader dies and a node campaigns
// because of it (ipc/leader.h, Node::takes_requests), the requests waiting at the dead leader go to the
// candidate at once, so the first receive that makes it leader takes them with its no-op. Requests at a
// live node stay where they are: it answers, or redirects, what it read.
// Over TCP the clients sleep in epoll, not on the segment's doorbells: the node newly named in the
// record tells them over their connections, and they follow at once rather than when their wait ends.
// No cluster: this process plays nodes 1 and 2 on a segment of its own, so the order of events is exact.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "ipc/segment.h"
#include "launcher/client/client_group.h"
#include "node/process/client_wire.h"
#include "node/process/tcp_transport.h"
#include "tests/benchcmd/own_segment.h"

namespace shmraft {
namespace {

using namespace std::chrono_literals;

// How many requests wait in `slot`'s ring to `node`, consumed.
std::size_t take_requests(ipc::Segment& segment, uint32_t slot, uint32_t node) {
  ipc::RingConsumer ring = segment.request_consumer(slot, node);
  return ring.drain([](const ipc::Frame&) {});
}

class ClientCandidate : public ::testing::Test {
 protected:
  ClientCandidate() {
    node1_.emplace(segment_.claim_liveness(1));
    EXPECT_TRUE(segment_.announce_leader(1, 1));
    options_.attempt_timeout = 10s;  // no timer fires during a test: only the record moves requests
    options_.operation_timeout = 20s;
    group_.emplace(own_.name, 2, options_);
  }

  // The put goes to node 1, the leader, which reads it and never answers.
  void put_at_leader() {
    ASSERT_TRUE(group_->client(0).submit({kv::Op::put, "k", "v", {}}, 7));
    group_->wait(on_done_, 1ms);
    ASSERT_EQ(take_requests(segment_, group_->client(0).slot(), 1), 1u);
  }

  test::OwnSegment own_{"candidate"};
  ipc::Segment& segment_ = own_.segment;
  std::optional<ipc::LivenessClaim> node1_;
  ipc::LivenessClaim node2_ = segment_.claim_liveness(2);
  client::ClientOptions options_;  // a session: a write may be resent
  std::optional<client::ClientGroup> group_;
  const client::ClientGroup::Callback on_done_ = [](uint32_t, const client::Completion&) {};
};

TEST_F(ClientCandidate, ARequestAtTheDeadLeaderIsResentToTheAnnouncedCandidate) {
  put_at_leader();
  node1_.reset();  // the leader dies
  ASSERT_TRUE(segment_.announce_candidate(2, 2));
  group_->wait(on_done_, 1ms);
  EXPECT_EQ(take_requests(segment_, group_->client(0).slot(), 2), 1u)
      << "the put waits at the dead leader for its attempt timeout";
  EXPECT_EQ(group_->client(0).leader(), 2u) << "new requests should go to the candidate too";
  // Elected: the put is there already, nothing is sent again.
  ASSERT_TRUE(segment_.announce_leader(2, 2));
  group_->wait(on_done_, 1ms);
  EXPECT_EQ(take_requests(segment_, group_->client(0).slot(), 2), 0u);
}

TEST_F(ClientCandidate, ARequestAtALiveLeaderStaysThere) {
  put_at_leader();
  ASSERT_TRUE(segment_.announce_candidate(2, 2));  // a node campaigns while the leader lives
  group_->wait(on_done_, 1ms);
  EXPECT_EQ(take_requests(segment_, group_->client(0).slot(), 2), 0u);
  EXPECT_EQ(group_->client(0).leader(), 1u);
}

// Counts the client requests a node played by the test reads.
struct CountingSink final : node::Transport::Sink {
  void on_peer_frame(uint32_t, std::span<const std::byte>) override {}
  void on_client_request(uint32_t, std::span<const std::byte>) override { ++requests; }
  std::size_t requests = 0;
};

TEST(ClientOverTcp, ARequestAtTheOldLeaderGoesToTheNewlyAnnouncedOneBeforeTheClientsWaitEnds) {
  test::OwnSegment own("candidate-tcp");
  ipc::Segment& segment = own.segment;
  const ipc::LivenessClaim node1 = segment.claim_liveness(1);
  const ipc::LivenessClaim node2 = segment.claim_liveness(2);
  node::TcpTransport transport1(segment, 1, ipc::WaitStrategy::spin, 0ns);
  node::TcpTransport transport2(segment, 2, ipc::WaitStrategy::spin, 0ns);
  ASSERT_TRUE(segment.announce_leader(1, 1));
  client::ClientOptions options;  // a session: a write may be resent
  options.transport = client::TransportKind::tcp;
  options.attempt_timeout = 60s;  // no timer fires during the test: only the record moves requests
  options.operation_timeout = 120s;
  client::ClientGroup group(own.name, 1, options);
  const client::ClientGroup::Callback on_done = [](uint32_t, const client::Completion&) {};
  CountingSink at1, at2;
  ASSERT_TRUE(group.client(0).submit({kv::Op::put, "k", "v", {}}, 7));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (at1.requests == 0 && std::chrono::steady_clock::now() < deadline) {
    group.wait(on_done, 1ms);
    transport1.receive(at1, node::Transport::Clock::now() + 1ms);
    transport2.receive(at2, node::Transport::Clock::now() + 1ms);  // accepts the client's connection
  }
  ASSERT_EQ(at1.requests, 1u) << "the put never reached the leader";
  for (int i = 0; i < 20; ++i) transport2.receive(at2, node::Transport::Clock::now() + 1ms);

  ASSERT_TRUE(segment.announce_leader(2, 2));  // node 1, stopped or starved, is no longer leader
  transport2.receive(at2, node::Transport::Clock::now());
  const auto start = std::chrono::steady_clock::now();
  group.wait(on_done, 30s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s)
      << "the client slept through node 2's announcement until its wait ended";
  while (at2.requests == 0 && std::chrono::steady_clock::now() < deadline + 10s) {
    group.wait(on_done, 1ms);
    transport2.receive(at2, node::Transport::Clock::now() + 1ms);
  }
  EXPECT_EQ(at2.requests, 1u) << "the put was not resent to the new leader";
}

}  // namespace
}  // namespace shmraft
