// ShmTransport's wake-ups of its peers: a flush rings a peer's doorbell when a frame committed for it
// asks to wake it, and only publishes the frame when none does (an idle follower's answer to a plain
// heartbeat, raft::wakes_receiver): the peer reads it when it next wakes. Over a real segment, in-process;
// the peer's "sleep" is a waiter registered on its doorbell, which a ring would wake at once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "ipc/segment.h"
#include "node/process/client_wire.h"
#include "node/process/shm_transport.h"

namespace shmraft::node {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kSender = 1;
constexpr uint32_t kPeer = 2;

class ShmTransportWake : public ::testing::Test {
 protected:
  ShmTransportWake()
      : name_("shm-transport-wake-" + std::to_string(getpid())),
        segment_(ipc::Segment::create(name_, ipc::SegmentConfig{.node_count = 3, .client_slots = 1})),
        transport_(segment_, kSender, ipc::WaitStrategy::spin, std::chrono::nanoseconds(0)),
        inbox_(segment_.peer_consumer(kSender, kPeer)) {}
  ~ShmTransportWake() override { ipc::Segment::destroy(name_); }

  void send(bool wake) {
    ASSERT_NE(transport_.reserve_peer(kPeer, 8), nullptr);
    transport_.commit_peer(kPeer, 8, wake);
  }

  // Flushes while the peer is registered asleep on its doorbell; true when the flush woke it.
  bool flush_wakes_sleeping_peer() {
    ipc::Doorbell& bell = segment_.node_doorbell(kPeer);
    const uint32_t key = bell.prepare_wait();
    transport_.flush();
    return bell.commit_wait(key, ipc::Doorbell::Clock::now() + 20ms);
  }

  std::size_t frames_read() {
    return inbox_.drain([](const ipc::Frame&) {});
  }

  std::string name_;
  ipc::Segment segment_;
  ShmTransport transport_;
  ipc::RingConsumer inbox_;
};

TEST_F(ShmTransportWake, AFrameThatAsksToWakeRingsThePeer) {
  send(true);
  EXPECT_TRUE(flush_wakes_sleeping_peer());
  EXPECT_EQ(frames_read(), 1U);
}

TEST_F(ShmTransportWake, AFrameThatNeedNotWakeIsPublishedWithoutARing) {
  send(false);
  EXPECT_FALSE(flush_wakes_sleeping_peer()) << "the peer was woken for a frame that said it need not be";
  EXPECT_EQ(frames_read(), 1U) << "the frame must still be published, for the peer's next wake-up";
}

TEST_F(ShmTransportWake, OneFrameThatAsksToWakeWakesThePeerForAllOfAFlush) {
  send(false);
  send(true);
  send(false);
  EXPECT_TRUE(flush_wakes_sleeping_peer());
  EXPECT_EQ(frames_read(), 3U);
  // The next flush starts afresh: a frame that need not wake does not inherit the last flush's ring.
  send(false);
  EXPECT_FALSE(flush_wakes_sleeping_peer());
  EXPECT_EQ(frames_read(), 1U);
}

}  // namespace
}  // namespace shmraft::node
