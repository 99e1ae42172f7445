// Real processes over a real segment: a 10-million-frame stream, producers killed with SIGKILL and
// replaced, and a million publish/wait cycles on the blocking doorbell.
//
// The TSan build runs the same tests with 10x fewer frames and cycles (it is 5-20x slower); the counts
// are printed. ASan+UBSan runs the full counts.
#include <csignal>
#include <random>
#include <thread>

#include "ipc/wait.h"
#include "test_support.h"

namespace shmraft::ipc {
namespace {

using namespace std::chrono_literals;
using test::ScopedCluster;

constexpr uint64_t kScale = test::kThreadSanitizer ? 10 : 1;

SegmentConfig two_nodes() {
  SegmentConfig config;
  config.node_count = 2;
  config.client_slots = 0;
  return config;
}

// Producer loop used by the children: frames of stream `stream` with sequence numbers from 0, random
// batches, until `count` frames (UINT64_MAX: until killed). Type = stream, so a mix-up is visible.
int produce(const std::string& cluster, uint16_t stream, uint64_t count, uint64_t seed, uint32_t max_length) {
  Segment segment = Segment::attach(cluster);
  RingProducer producer = segment.peer_producer(1, 2);
  std::mt19937_64 rng(seed);
  uint64_t seq = 0;
  while (seq < count) {
    const uint64_t batch = 1 + rng() % 32;
    for (uint64_t i = 0; i < batch && seq < count; ++i) {
      const uint32_t length = test::payload_length(seq, max_length);
      std::byte* at;
      for (int spins = 0; (at = producer.try_reserve(length)) == nullptr; ++spins) {
        producer.publish();
        if (spins > 64)
          sched_yield();
        else
          cpu_relax();
      }
      test::fill_payload(at, length, seq, stream);
      producer.commit(stream, length);
      ++seq;
    }
    producer.publish();
  }
  return 0;
}

// Consumer side of the checks: per stream, sequence numbers must run 0, 1, 2, ... with exact content,
// and streams must follow each other in order.
struct StreamChecker {
  uint16_t stream = 0;
  uint64_t next = 0;
  uint64_t total = 0;
  std::string error;

  bool check(const Frame& frame) {
    if (!error.empty()) return false;
    const uint64_t seq = test::payload_seq(frame.payload);
    if (frame.type != stream) {
      if (frame.type != stream + 1 || seq != 0) {
        error = "stream " + std::to_string(frame.type) + " seq " + std::to_string(seq) + " after stream " +
                std::to_string(stream) + " seq " + std::to_string(next);
        return false;
      }
      stream = frame.type;  // the successor producer's first frame
      next = 0;
    }
    if (seq != next) {
      error = "stream " + std::to_string(stream) + ": expected seq " + std::to_string(next) + ", got " +
              std::to_string(seq) + (seq < next ? " (duplicate or reordered)" : " (lost frames)");
      return false;
    }
    if (!test::payload_matches(frame.payload, seq, stream)) {
      error = "stream " + std::to_string(stream) + " seq " + std::to_string(seq) + ": payload differs";
      return false;
    }
    ++next;
    ++total;
    return true;
  }
};

TEST(TwoProcesses, TenMillionFramesWithoutLossDuplicateOrReordering) {
  std::string replay;
  const uint64_t seed = test::test_seed(&replay);
  SCOPED_TRACE(replay);
  const uint64_t frames = 10'000'000 / kScale;
  std::printf("streaming %llu frames between two processes\n", static_cast<unsigned long long>(frames));
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), two_nodes());
  RingConsumer consumer = segment.peer_consumer(1, 2);
  Waiter waiter(segment.node_doorbell(2));  // adaptive, the default
  const pid_t child = test::fork_child([&] { return produce(cluster.name(), 1, frames, seed, 64); });

  StreamChecker checker;
  checker.stream = 1;
  while (checker.total < frames && checker.error.empty()) {
    if (!waiter.wait_for([&] { return consumer.has_frames(); }, 30s)) {
      checker.error = "no frame for 30 s after " + std::to_string(checker.total);
      break;
    }
    consumer.drain([&](const Frame& frame) { checker.check(frame); });
  }
  if (!checker.error.empty()) ::kill(child, SIGKILL);
  EXPECT_EQ(test::wait_child(child), checker.error.empty() ? 0 : 128 + SIGKILL);
  EXPECT_EQ(checker.error, "");
  EXPECT_EQ(checker.total, frames);
  EXPECT_FALSE(consumer.has_frames());
  EXPECT_EQ(consumer.bad_frames(), 0u);
}

// Producers are SIGKILLed at random moments mid-stream (typically inside a reservation or between
// commit and publish); each time a new producer process attaches and continues from the stored tail.
// The consumer must see only whole frames: every stream a gap-free prefix, no bad frame.
TEST(TwoProcesses, KilledProducerIsReplacedAndOnlyWholeFramesAreSeen) {
  std::string replay;
  const uint64_t seed = test::test_seed(&replay);
  SCOPED_TRACE(replay);
  std::mt19937_64 rng(seed);
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), two_nodes());
  RingConsumer consumer = segment.peer_consumer(1, 2);
  Waiter waiter(segment.node_doorbell(2));
  StreamChecker checker;
  checker.stream = 1;
  constexpr uint16_t kKilled = 8;
  const uint64_t last_stream_frames = 200'000 / kScale;
  for (uint16_t stream = 1; stream <= kKilled + 1 && checker.error.empty(); ++stream) {
    const bool last = stream == kKilled + 1;
    const uint64_t producer_seed = rng();
    const pid_t child = test::fork_child([&] {
      return produce(cluster.name(), stream, last ? last_stream_frames : UINT64_MAX, producer_seed, 300);
    });
    // Let it run for a random number of frames (counted as we consume them), then kill it.
    const uint64_t run_for = last ? last_stream_frames : (20'000 + rng() % 200'000) / kScale;
    const uint64_t start = checker.total;
    while (checker.error.empty() && (checker.stream < stream || checker.total - start < run_for)) {
      if (!waiter.wait_for([&] { return consumer.has_frames(); }, 30s)) {
        checker.error = "no frame for 30 s";
        break;
      }
      consumer.drain([&](const Frame& frame) { checker.check(frame); }, 1 + rng() % 64);
    }
    if (!last || !checker.error.empty()) {
      ::kill(child, SIGKILL);
      EXPECT_EQ(test::wait_child(child), 128 + SIGKILL);
      // Whatever it published before dying must still be whole and in order.
      consumer.drain([&](const Frame& frame) { checker.check(frame); });
    } else {
      EXPECT_EQ(test::wait_child(child), 0);
    }
  }
  EXPECT_EQ(checker.error, "");
  EXPECT_EQ(checker.stream, kKilled + 1);
  EXPECT_EQ(checker.next, last_stream_frames);
  EXPECT_EQ(consumer.bad_frames(), 0u);
  std::printf("%llu frames from %d producers, %d of them SIGKILLed\n",
              static_cast<unsigned long long>(checker.total), kKilled + 1, kKilled);
}

// The deterministic version: the producer dies with one frame committed but unpublished and another
// half written. Neither may ever be seen; the successor's frames follow the published ones directly.
TEST(TwoProcesses, ProducerKilledInsideAFrameLeavesNothingVisible) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), two_nodes());
  const ProgressCounter& child_progress = segment.progress(1);
  const pid_t child = test::fork_child([&]() -> int {
    Segment mine = Segment::attach(cluster.name());
    RingProducer producer = mine.peer_producer(1, 2);
    for (uint64_t seq = 0; seq < 3; ++seq) {
      std::byte* at = producer.try_reserve(40);
      test::fill_payload(at, 40, seq, 1);
      producer.commit(1, 40);
    }
    producer.publish();
    std::byte* at = producer.try_reserve(40);  // committed, never published
    test::fill_payload(at, 40, 3, 1);
    producer.commit(1, 40);
    at = producer.try_reserve(400);  // half written
    std::memset(at, 0xAB, 200);
    mine.progress(1).bump();  // tells the parent all of the above is written
    for (;;) ::pause();
  });
  while (child_progress.count.load() == 0) std::this_thread::sleep_for(1ms);
  ::kill(child, SIGKILL);
  EXPECT_EQ(test::wait_child(child), 128 + SIGKILL);

  RingConsumer consumer = segment.peer_consumer(1, 2);
  StreamChecker checker;
  checker.stream = 1;
  consumer.drain([&](const Frame& frame) { checker.check(frame); });
  EXPECT_EQ(checker.total, 3u);

  const pid_t successor = test::fork_child([&] { return produce(cluster.name(), 2, 1000, 5, 100); });
  EXPECT_EQ(test::wait_child(successor), 0);
  consumer.drain([&](const Frame& frame) { checker.check(frame); });
  EXPECT_EQ(checker.error, "");
  EXPECT_EQ(checker.stream, 2);
  EXPECT_EQ(checker.next, 1000u);
  EXPECT_EQ(consumer.bad_frames(), 0u);
}

// Two processes bounce a sequence number over two rings, both waiting with the BLOCKING strategy, so
// every cycle goes through prepare_wait / re-check / futex. The replier sometimes pauses a moment
// first, so the waiter is caught in every phase. A lost wake-up shows as a wait that times out.
TEST(TwoProcesses, MillionBlockingPublishWaitCyclesLoseNoWakeUp) {
  std::string replay;
  const uint64_t seed = test::test_seed(&replay);
  SCOPED_TRACE(replay);
  const uint64_t round_trips = 500'000 / kScale;  // two publish/wait cycles each
  std::printf("%llu blocking publish/wait cycles\n", static_cast<unsigned long long>(2 * round_trips));
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), two_nodes());

  // Returns 0, or 1 when a wait timed out, 2 when a frame was wrong.
  uint64_t parent_sleeps = 0;
  auto bounce = [&](Segment& s, uint32_t me, bool starts, uint64_t rng_seed) {
    const uint32_t peer = 3 - me;  // nodes 1 and 2
    RingProducer out = s.peer_producer(me, peer);
    RingConsumer in = s.peer_consumer(peer, me);
    Waiter waiter(s.node_doorbell(me), WaitStrategy::block);
    std::mt19937_64 rng(rng_seed);
    for (uint64_t seq = 0; seq < round_trips; ++seq) {
      if (starts && !out.try_push(1, std::as_bytes(std::span(&seq, 1)))) return 2;
      if (!waiter.wait_for([&] { return in.has_frames(); }, 30s)) {
        std::fprintf(stderr, "node %u: wait timed out at round trip %llu\n", me,
                     static_cast<unsigned long long>(seq));
        return 1;
      }
      auto frame = in.peek();
      if (!frame || test::payload_seq(frame->payload) != seq) return 2;
      in.release();
      if (rng() % 4 == 0)
        for (int spin = rng() % 512; spin > 0; --spin) cpu_relax();
      if (!starts && !out.try_push(1, std::as_bytes(std::span(&seq, 1)))) return 2;
    }
    parent_sleeps = waiter.sleeps();
    return 0;
  };
  const uint64_t child_seed = seed ^ 0x5555;
  const pid_t child = test::fork_child([&] {
    Segment mine = Segment::attach(cluster.name());
    return bounce(mine, 2, false, child_seed);
  });
  const int result = bounce(segment, 1, true, seed);
  if (result != 0) ::kill(child, SIGKILL);
  EXPECT_EQ(result, 0);
  EXPECT_EQ(test::wait_child(child), result == 0 ? 0 : 128 + SIGKILL);
  std::printf("the starting process slept on its futex %llu times\n",
              static_cast<unsigned long long>(parent_sleeps));
}

}  // namespace
}  // namespace shmraft::ipc
