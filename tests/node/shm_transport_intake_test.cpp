// ShmTransport's client intake: a receive() hands over client requests only as far as the sink's
// request_room() allows; the requests left wait in their rings and later receives read them, the rings
// in round-robin order and each ring's requests in order, none lost. This is what lets a leader take a
// burst of requests over many short iterations (Node::request_room) instead of one long one. A sink that
// takes no requests (a candidate) is neither handed nor woken for them; one that expects no frame soon (a
// leaderless follower) sleeps without spinning.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ipc/segment.h"
#include "node/process/client_wire.h"
#include "node/process/shm_transport.h"

namespace shmraft::node {
namespace {

constexpr uint32_t kSlots = 8;
constexpr uint32_t kRequestsPerSlot = 3;
constexpr uint32_t kNode = 1;

using Request = std::pair<uint32_t, uint32_t>;  // (slot, the request's number within its slot)

class RecordingSink final : public Transport::Sink {
 public:
  // A candidate's deciding vote: from now on it takes requests, as a node does once it leads.
  void on_peer_frame(uint32_t, std::span<const std::byte>) override {
    ++peer_frames;
    takes = true;
  }
  void on_client_request(uint32_t slot, std::span<const std::byte> payload) override {
    uint32_t number = 0;
    std::memcpy(&number, payload.data(), sizeof number);
    taken.emplace_back(slot, number);
    if (room != SIZE_MAX) --room;
  }
  std::size_t request_room() noexcept override { return room; }
  bool takes_requests() const noexcept override { return takes; }
  bool spin_pays() const noexcept override { return spin; }

  std::size_t room = SIZE_MAX;
  bool takes = true;
  bool spin = true;
  std::size_t peer_frames = 0;
  std::vector<Request> taken;
};

class ShmTransportIntake : public ::testing::Test {
 protected:
  ShmTransportIntake()
      : name_("shm-transport-intake-" + std::to_string(getpid())),
        segment_(ipc::Segment::create(name_, ipc::SegmentConfig{.node_count = 3, .client_slots = kSlots})),
        transport_(segment_, kNode, ipc::WaitStrategy::spin, std::chrono::nanoseconds(0)) {}
  ~ShmTransportIntake() override { ipc::Segment::destroy(name_); }

  // Every slot sends kRequestsPerSlot requests numbered 0, 1, ... and signals the node, as a client does.
  void send_requests() {
    for (uint32_t slot = 0; slot < kSlots; ++slot) {
      ipc::RingProducer ring = segment_.request_producer(slot, kNode);
      for (uint32_t number = 0; number < kRequestsPerSlot; ++number) {
        std::byte* at = ring.try_reserve(sizeof number);
        ASSERT_NE(at, nullptr);
        std::memcpy(at, &number, sizeof number);
        ring.commit(kRequestFrame, sizeof number);
      }
      ring.publish_unrung();
      segment_.request_signals(kNode).raise(slot);
    }
  }

  std::size_t receive(RecordingSink& sink) {
    return transport_.receive(sink, Transport::Clock::time_point{});
  }

  std::string name_;
  ipc::Segment segment_;
  ShmTransport transport_;
};

TEST_F(ShmTransportIntake, WithoutALimitOneReceiveTakesEveryRequest) {
  send_requests();
  RecordingSink sink;
  EXPECT_EQ(receive(sink), kSlots * kRequestsPerSlot);
  EXPECT_EQ(sink.taken.size(), kSlots * kRequestsPerSlot);
  EXPECT_EQ(receive(sink), 0U);
}

TEST_F(ShmTransportIntake, TheRestWaitsInItsRingAndIsReadInTurnByLaterReceives) {
  send_requests();
  RecordingSink sink;
  std::vector<std::size_t> per_receive;
  for (int i = 0; i < 10 && sink.taken.size() < kSlots * kRequestsPerSlot; ++i) {
    sink.room = 5;
    per_receive.push_back(receive(sink));
  }
  // 5 per receive: a ring read in part (slot 1 after 0's three and its own two) goes to the back of the
  // turn, behind every ring not read yet.
  EXPECT_EQ(per_receive, (std::vector<std::size_t>{5, 5, 5, 5, 4}));
  const std::vector<Request> expected = {{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1},  //
                                         {2, 0}, {2, 1}, {2, 2}, {3, 0}, {3, 1},  //
                                         {4, 0}, {4, 1}, {4, 2}, {5, 0}, {5, 1},  //
                                         {6, 0}, {6, 1}, {6, 2}, {7, 0}, {7, 1},  //
                                         {1, 2}, {3, 2}, {5, 2}, {7, 2}};
  EXPECT_EQ(sink.taken, expected);
  sink.room = SIZE_MAX;
  EXPECT_EQ(receive(sink), 0U);
}

TEST_F(ShmTransportIntake, NoRoomTakesNothingAndLosesNothing) {
  send_requests();
  RecordingSink sink;
  sink.room = 0;
  EXPECT_EQ(receive(sink), 0U);
  EXPECT_TRUE(sink.taken.empty());
  sink.room = SIZE_MAX;
  EXPECT_EQ(receive(sink), kSlots * kRequestsPerSlot);
}

TEST_F(ShmTransportIntake, ACandidateLeavesRequestsWaitingAndTakesThemWithTheDecidingVote) {
  send_requests();
  RecordingSink sink;
  sink.takes = false;  // an announced candidate (Node::takes_requests)
  const Transport::Clock::time_point start = Transport::Clock::now();
  EXPECT_EQ(transport_.receive(sink, start + std::chrono::milliseconds(20)), 0U);
  EXPECT_GE(Transport::Clock::now() - start, std::chrono::milliseconds(20))
      << "the wait ended for requests the sink does not take: a candidate would spin on them";
  EXPECT_TRUE(sink.taken.empty());
  // The vote that elects it: the same receive reads it, then every request waiting.
  ipc::RingProducer vote = segment_.peer_producer(2, kNode);
  ASSERT_NE(vote.try_reserve(8), nullptr);
  vote.commit(kPeerFrame, 8);
  vote.publish();
  EXPECT_EQ(receive(sink), 1 + kSlots * kRequestsPerSlot);
  EXPECT_EQ(sink.peer_frames, 1U);
  EXPECT_EQ(sink.taken.size(), kSlots * kRequestsPerSlot);
}

// A sink that expects nothing within a spin (a leaderless follower, Node::spin_pays) sleeps on the doorbell
// at once: the frame it waits for comes from a peer that first needs the CPU a spin would hold.
TEST_F(ShmTransportIntake, ASinkThatExpectsNoFrameSoonSleepsAtOnceInsteadOfSpinning) {
  using namespace std::chrono_literals;
  ShmTransport transport(segment_, kNode, ipc::WaitStrategy::adaptive, 30s);
  RecordingSink sink;
  sink.spin = false;
  EXPECT_EQ(transport.receive(sink, Transport::Clock::time_point{}), 0U);  // reads the rings owed at start
  ipc::Doorbell& bell = segment_.node_doorbell(kNode);
  std::atomic<bool> found_asleep{false};
  std::thread candidate([&] {
    const auto give_up = Transport::Clock::now() + 10s;  // far beyond a wake-up, far within the spin
    while (bell.waiters.load() == 0 && Transport::Clock::now() < give_up) std::this_thread::yield();
    found_asleep = bell.waiters.load() != 0;
    ipc::RingProducer request = segment_.peer_producer(2, kNode);
    ASSERT_NE(request.try_reserve(8), nullptr);
    request.commit(kPeerFrame, 8);
    request.publish();
  });
  EXPECT_EQ(transport.receive(sink, Transport::Clock::now() + 60s), 1U);
  candidate.join();
  EXPECT_TRUE(found_asleep) << "it spun first (for up to its 30 s spin time)";
  EXPECT_EQ(transport.sleeps(), 1U);
}

}  // namespace
}  // namespace shmraft::node
