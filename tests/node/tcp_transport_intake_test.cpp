// TcpTransport's client intake, as ShmTransport's (shm_transport_intake_test.cpp): a receive() hands over
// client requests only as far as the sink's request_room() allows, and later receives take the rest —
// each client's requests in order, none lost, none twice. And what replaces the segment's doorbells for
// processes asleep in epoll: a node newly named leader or candidate in the leader record tells its
// connected clients, and a peer's death (its connections closing) ends a receive's wait. Over real
// loopback connections, in-process: one ipc::tcp endpoint per client slot, as a TCP client opens.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ipc/segment.h"
#include "ipc/tcp/transport.h"
#include "node/process/client_wire.h"
#include "node/process/tcp_transport.h"

namespace shmraft::node {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kSlots = 8;
constexpr uint32_t kRequestsPerSlot = 3;
constexpr uint32_t kAll = kSlots * kRequestsPerSlot;
constexpr uint32_t kNode = 1;

class RecordingSink final : public Transport::Sink {
 public:
  void on_peer_frame(uint32_t, std::span<const std::byte>) override {}
  void on_client_request(uint32_t slot, std::span<const std::byte> payload) override {
    uint32_t number = 0;
    std::memcpy(&number, payload.data(), sizeof number);
    taken[slot].push_back(number);
    ++count;
    if (room != SIZE_MAX) --room;
  }
  std::size_t request_room() noexcept override { return room; }
  bool has_wake_event() const noexcept override { return woken.load(); }

  std::size_t room = SIZE_MAX;
  std::atomic<bool> woken{false};
  std::size_t count = 0;
  std::map<uint32_t, std::vector<uint32_t>> taken;  // by slot, in the order handed over
};

class TcpTransportIntake : public ::testing::Test {
 protected:
  TcpTransportIntake()
      : name_("tcp-transport-intake-" + std::to_string(getpid())),
        segment_(ipc::Segment::create(name_, ipc::SegmentConfig{.node_count = 3, .client_slots = kSlots})),
        transport_(segment_, kNode, ipc::WaitStrategy::spin, std::chrono::nanoseconds(0)) {
    const auto port =
        static_cast<uint16_t>(segment_.node_counters(kNode).tcp_port.load(std::memory_order_relaxed));
    for (uint32_t slot = 0; slot < kSlots; ++slot) {
      clients_.push_back(std::make_unique<ipc::tcp::Transport>(
          ipc::tcp::Options{.self = kTcpClientEndpoint + slot, .listen = false}));
      clients_.back()->connect(kNode, port);
    }
  }
  ~TcpTransportIntake() override { ipc::Segment::destroy(name_); }

  // Every client sends kRequestsPerSlot requests numbered 0, 1, ... and waits until its socket took them.
  void send_requests() {
    for (auto& client : clients_) {
      for (uint32_t number = 0; number < kRequestsPerSlot; ++number)
        ASSERT_TRUE(client->send(kNode, kRequestFrame, 0, std::as_bytes(std::span(&number, 1))));
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (bool sent = false; !sent;) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the clients' requests did not go out";
      sent = true;
      for (auto& client : clients_) {
        client->flush();
        client->poll(0ns, [](ipc::tcp::EndpointId, const ipc::Frame&) {});
        sent = sent && client->connected(kNode) && client->queued_bytes() == 0;
      }
    }
  }

  // Receives (each call waiting at most 1 ms) with `room` per receive until every request was taken or
  // `receives` calls were made; returns how many each call handed over.
  std::vector<std::size_t> receive_all(RecordingSink& sink, std::size_t room, int receives) {
    std::vector<std::size_t> per_receive;
    for (int i = 0; i < receives && sink.count < kAll; ++i) {
      sink.room = room;
      const std::size_t before = sink.count;
      transport_.receive(sink, Transport::Clock::now() + 1ms);
      per_receive.push_back(sink.count - before);
    }
    return per_receive;
  }

  static void expect_each_request_once_in_order(const RecordingSink& sink) {
    EXPECT_EQ(sink.count, kAll);
    for (uint32_t slot = 0; slot < kSlots; ++slot) {
      const auto it = sink.taken.find(slot);
      ASSERT_NE(it, sink.taken.end()) << "slot " << slot;
      EXPECT_EQ(it->second, (std::vector<uint32_t>{0, 1, 2})) << "slot " << slot;
    }
  }

  std::string name_;
  ipc::Segment segment_;
  TcpTransport transport_;
  std::vector<std::unique_ptr<ipc::tcp::Transport>> clients_;
};

TEST_F(TcpTransportIntake, WithoutALimitEveryRequestIsTaken) {
  send_requests();
  RecordingSink sink;
  receive_all(sink, SIZE_MAX, 1000);
  expect_each_request_once_in_order(sink);
}

TEST_F(TcpTransportIntake, EachReceiveTakesAtMostItsRoomAndLaterOnesTakeTheRest) {
  send_requests();
  RecordingSink sink;
  const std::vector<std::size_t> per_receive = receive_all(sink, 5, 1000);
  expect_each_request_once_in_order(sink);
  std::size_t full = 0;
  for (const std::size_t n : per_receive) {
    EXPECT_LE(n, 5U);
    full += n == 5;
  }
  EXPECT_GE(full, 4U);  // 24 requests at 5 a receive: the room, not the arrivals, set the pace
  sink.room = SIZE_MAX;
  transport_.receive(sink, Transport::Clock::now() + 1ms);
  EXPECT_EQ(sink.count, kAll);
}

TEST_F(TcpTransportIntake, NoRoomTakesNothingAndLosesNothing) {
  send_requests();
  RecordingSink sink;
  for (int i = 0; i < 50; ++i) {  // long enough to read every socket
    sink.room = 0;
    EXPECT_EQ(transport_.receive(sink, Transport::Clock::now() + 1ms), 0U);
  }
  EXPECT_EQ(sink.count, 0U);
  receive_all(sink, SIZE_MAX, 1000);
  expect_each_request_once_in_order(sink);
}

// How many announcement frames `client` receives: it waits up to 5 s for `expected`, then looks 10 ms
// more for any beyond (a node's send is in the client's socket when its receive() returns).
std::size_t announcements(ipc::tcp::Transport& client, std::size_t expected) {
  std::size_t seen = 0;
  const auto look = [&](std::chrono::nanoseconds wait) {
    client.poll(wait, [&](ipc::tcp::EndpointId from, const ipc::Frame& frame) {
      if (from == kNode && frame.type == kAnnouncementFrame) ++seen;
    });
  };
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (seen < expected && std::chrono::steady_clock::now() < deadline) look(1ms);
  const auto extra = std::chrono::steady_clock::now() + 10ms;
  while (std::chrono::steady_clock::now() < extra) look(1ms);
  return seen;
}

TEST_F(TcpTransportIntake, ANodeNewlyNamedLeaderOrCandidateTellsEveryConnectedClientOnce) {
  send_requests();  // the clients are connected and the node has read their hellos
  RecordingSink sink;
  receive_all(sink, SIZE_MAX, 1000);
  ASSERT_EQ(sink.count, kAll);
  ASSERT_TRUE(segment_.announce_candidate(kNode, 1));
  transport_.receive(sink, Transport::Clock::now());
  for (auto& client : clients_) EXPECT_EQ(announcements(*client, 1), 1U) << "the candidacy";
  ASSERT_TRUE(segment_.announce_leader(kNode, 1));
  transport_.receive(sink, Transport::Clock::now());
  transport_.receive(sink, Transport::Clock::now());  // nothing new: nothing more sent
  for (auto& client : clients_) EXPECT_EQ(announcements(*client, 1), 1U) << "the leadership";
  ASSERT_TRUE(segment_.announce_leader(2, 2));  // another node's news is not this node's to tell
  transport_.receive(sink, Transport::Clock::now());
  for (auto& client : clients_) EXPECT_EQ(announcements(*client, 0), 0U);
}

// A peer's death is learnt from its death cell (the sink's has_wake_event), not from a frame: the wait
// must end at the epoll wake-up its closing connection brings, not at the deadline. A node that sleeps
// in epoll at once (`block`), beside the fixture's.
TEST_F(TcpTransportIntake, AWakeEventEndsTheWaitAtTheWakeUpAClosingConnectionBrings) {
  constexpr uint32_t kSleeper = 3;
  TcpTransport sleeper(segment_, kSleeper, ipc::WaitStrategy::block, std::chrono::nanoseconds(0));
  auto peer = std::make_unique<ipc::tcp::Transport>(ipc::tcp::Options{.self = 2, .listen = false});
  peer->connect(kSleeper, static_cast<uint16_t>(segment_.node_counters(kSleeper).tcp_port.load()));
  RecordingSink sink;
  for (int i = 0; i < 1000 && !peer->connected(kSleeper); ++i) {
    peer->poll(1ms, [](ipc::tcp::EndpointId, const ipc::Frame&) {});
    sleeper.receive(sink, Transport::Clock::now() + 1ms);
  }
  ASSERT_TRUE(peer->connected(kSleeper));
  sleeper.receive(sink, Transport::Clock::now() + 10ms);  // the node reads the peer's hello
  std::thread dies([&] {
    std::this_thread::sleep_for(100ms);
    sink.woken = true;  // the death cell, marked before the dead process's sockets close
    peer.reset();
  });
  const auto start = std::chrono::steady_clock::now();
  sleeper.receive(sink, Transport::Clock::now() + 30s);
  const auto waited = std::chrono::steady_clock::now() - start;
  dies.join();
  EXPECT_LT(waited, 15s) << "the receive slept until its deadline through the peer's death";
}

}  // namespace
}  // namespace shmraft::node
