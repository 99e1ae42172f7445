// Fault words: encoding, validation, and the sender-side decision.
#include "ipc/fault.h"

#include <random>

#include "test_support.h"

namespace shmraft::ipc {
namespace {

using namespace std::chrono_literals;

// A generator that counts how often it is asked (a healthy link must not ask at all).
struct CountingRng {
  using result_type = uint64_t;
  std::mt19937_64 engine;
  uint64_t calls = 0;
  static constexpr result_type min() { return std::mt19937_64::min(); }
  static constexpr result_type max() { return std::mt19937_64::max(); }
  result_type operator()() {
    ++calls;
    return engine();
  }
};

TEST(Fault, ZeroWordIsAHealthyLink) {
  LinkFault link;
  EXPECT_EQ(link.get(), FaultSettings{});
  CountingRng rng;
  for (int i = 0; i < 1000; ++i) {
    const SendDecision d = decide_send(link, rng);
    EXPECT_TRUE(d.deliver);
    EXPECT_EQ(d.delay, 0us);
  }
  EXPECT_EQ(rng.calls, 0u);
}

TEST(Fault, EncodeDecodeRoundTrip) {
  for (const FaultSettings& s :
       {FaultSettings{false, 0.0, 0us}, FaultSettings{true, 0.25, 1500us}, FaultSettings{true, 1.0, 0us},
        FaultSettings{false, 0.000001, 4294967295us}}) {
    LinkFault link;
    link.set(s);
    EXPECT_EQ(link.get(), s);
  }
  LinkFault link;
  link.set({false, 0.5, 10us});
  link.heal();
  EXPECT_EQ(link.word.load(), 0u);
}

TEST(Fault, OutOfRangeSettingsAreRejectedByName) {
  LinkFault link;
  EXPECT_THROW(link.set({true, -0.1, 0us}), std::invalid_argument);
  EXPECT_THROW(link.set({true, 1.5, 0us}), std::invalid_argument);
  EXPECT_THROW(link.set({true, std::nan(""), 0us}), std::invalid_argument);
  try {
    link.set({true, 0.0, -1us});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("link delay of -1 us"), std::string::npos) << e.what();
  }
  EXPECT_THROW(link.set({true, 0.0, 4294967296us}), std::invalid_argument);
  EXPECT_EQ(link.word.load(), 0u);  // a rejected setting changes nothing
}

TEST(Fault, DisconnectedDropsEverything) {
  LinkFault link;
  link.set({false, 0.0, 0us});
  CountingRng rng;
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(decide_send(link, rng).deliver);
  link.set({true, 1.0, 0us});
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(decide_send(link, rng).deliver);
  EXPECT_EQ(rng.calls, 0u);
}

TEST(Fault, DelayIsPassedToTheSender) {
  LinkFault link;
  link.set({true, 0.0, 2500us});
  std::mt19937_64 rng(1);
  const SendDecision d = decide_send(link, rng);
  EXPECT_TRUE(d.deliver);
  EXPECT_EQ(d.delay, 2500us);
}

// With a seeded generator the decisions are reproducible, and their rate matches the setting.
TEST(Fault, DropRateIsHonouredAndReproducible) {
  std::string replay;
  const uint64_t seed = test::test_seed(&replay);
  SCOPED_TRACE(replay);
  LinkFault link;
  link.set({true, 0.25, 100us});
  std::mt19937_64 first(seed), second(seed);
  int dropped = 0;
  constexpr int kFrames = 200'000;
  for (int i = 0; i < kFrames; ++i) {
    const SendDecision a = decide_send(link, first), b = decide_send(link, second);
    ASSERT_EQ(a.deliver, b.deliver);
    if (!a.deliver)
      ++dropped;
    else
      EXPECT_EQ(a.delay, 100us);
  }
  // 0.25 of 200k: the standard deviation is ~194 frames; 10 sigma of slack.
  EXPECT_NEAR(dropped, kFrames / 4, 2000);
}

TEST(Fault, LinksAreIndependentInTheSegment) {
  test::ScopedCluster cluster;
  SegmentConfig config;
  config.node_count = 3;
  config.client_slots = 0;
  config.peer_ring_capacity = 4096;
  Segment launcher = Segment::create(cluster.name(), config);
  Segment node = Segment::attach(cluster.name());
  launcher.link_fault(1, 3).set({false, 0.0, 0us});  // partition 1 -> 3 only
  std::mt19937_64 rng(7);
  EXPECT_FALSE(decide_send(node.link_fault(1, 3), rng).deliver);
  EXPECT_TRUE(decide_send(node.link_fault(3, 1), rng).deliver);
  EXPECT_TRUE(decide_send(node.link_fault(1, 2), rng).deliver);
  launcher.link_fault(1, 3).heal();
  EXPECT_TRUE(decide_send(node.link_fault(1, 3), rng).deliver);
}

}  // namespace
}  // namespace shmraft::ipc
