// SPSC frame ring in one process: layout at every offset and size, full/empty, batching, restart views,
// corruption, and a threaded stream for TSan.
#include <atomic>
#include <thread>

#include "ipc/wait.h"
#include "test_support.h"

namespace shmraft::ipc {
namespace {

using test::LocalRing;

std::span<const std::byte> bytes_of(const std::vector<std::byte>& v) {
  return {v.data(), v.size()};
}

std::vector<std::byte> pattern(uint32_t length, uint8_t salt) {
  std::vector<std::byte> v(length);
  for (uint32_t i = 0; i < length; ++i) v[i] = static_cast<std::byte>(i * 31 + salt);
  return v;
}

// Places both indices of an empty ring at `position` (as a restarted process would find them).
void park(LocalRing& ring, uint64_t position) {
  ring.control().tail.store(position);
  ring.control().head.store(position);
}

// Bytes a frame costs when the producer's tail is at `tail` (pad included).
uint64_t cost_at(uint64_t tail, uint64_t capacity, uint32_t length) {
  const uint64_t size = frame_size(length), contiguous = capacity - tail % capacity;
  return size > contiguous ? contiguous + size : size;
}

TEST(Ring, EmptyRingHasNothing) {
  LocalRing ring(256);
  RingConsumer consumer = ring.consumer();
  EXPECT_FALSE(consumer.has_frames());
  EXPECT_FALSE(consumer.peek().has_value());
  EXPECT_EQ(consumer.drain([](const Frame&) { FAIL(); }), 0u);
  consumer.release();  // nothing peeked: a no-op
  EXPECT_EQ(ring.control().head.load(), 0u);
  EXPECT_EQ(consumer.bad_frames(), 0u);
}

TEST(Ring, CapacityMustBeAPowerOfTwo) {
  RingControl control;
  std::vector<std::byte> buffer(1000);
  EXPECT_THROW(RingProducer(control, buffer.data(), 1000), std::invalid_argument);
  EXPECT_THROW(RingConsumer(control, buffer.data(), 32), std::invalid_argument);
  EXPECT_NO_THROW(RingConsumer(control, buffer.data(), 512));
}

TEST(Ring, MaxPayloadIsHalfTheCapacityMinusTheHeader) {
  LocalRing ring(1024);
  RingProducer producer = ring.producer();
  EXPECT_EQ(producer.max_payload(), 512u - sizeof(FrameHeader));
  EXPECT_EQ(frame_size(producer.max_payload()), 512u);
  EXPECT_THROW(producer.try_reserve(producer.max_payload() + 1), std::length_error);
  const std::vector<std::byte> too_long(producer.max_payload() + 1);
  EXPECT_THROW(producer.try_push(1, bytes_of(too_long)), std::length_error);
  EXPECT_NE(producer.try_reserve(producer.max_payload()), nullptr);
}

// Every 8-byte start offset in the buffer x every payload length 0 .. capacity/2 - 12: two frames go
// through (the second one often wrapping), then the ring is filled to the byte the arithmetic predicts
// and drained again.
TEST(Ring, WrapAroundAtEveryOffsetAndSize) {
  constexpr uint64_t kCapacity = 512;
  LocalRing ring(kCapacity);
  const uint32_t max_payload = max_payload_for(kCapacity);
  for (uint64_t offset = 0; offset < kCapacity; offset += kFrameAlignment) {
    for (uint32_t length = 0; length <= max_payload; ++length) {
      SCOPED_TRACE("offset " + std::to_string(offset) + " length " + std::to_string(length));
      const uint64_t start = 3 * kCapacity + offset;  // a few laps in, as after long use
      park(ring, start);
      RingProducer producer = ring.producer();
      RingConsumer consumer = ring.consumer();
      const auto first = pattern(length, 1), second = pattern(length, 2);
      // Two frames of up to half the ring need not fit together, so the second goes in after the first
      // is released; it starts where the first ended, often wrapping.
      for (int i = 0; i < 2; ++i) {
        if (i == 0) {
          ASSERT_TRUE(producer.try_push(7, bytes_of(first), 0x0102));
        } else {
          ASSERT_TRUE(producer.try_write(8, bytes_of(second)));
          ASSERT_TRUE(producer.publish());
        }
        auto frame = consumer.peek();
        ASSERT_TRUE(frame.has_value());
        EXPECT_EQ(frame->type, i == 0 ? 7 : 8);
        EXPECT_EQ(frame->flags, i == 0 ? 0x0102 : 0);
        const auto& expected = i == 0 ? first : second;
        ASSERT_EQ(frame->payload.size(), length);
        EXPECT_TRUE(std::equal(expected.begin(), expected.end(), frame->payload.begin()));
        consumer.release();
      }
      EXPECT_FALSE(consumer.peek().has_value());

      // Fill: exactly as many frames as the byte arithmetic allows.
      uint64_t tail = ring.control().tail.load(), expected_frames = 0;
      while (tail + cost_at(tail, kCapacity, length) - ring.control().head.load() <= kCapacity) {
        tail += cost_at(tail, kCapacity, length);
        ++expected_frames;
      }
      uint64_t written = 0;
      while (producer.try_write(9, bytes_of(first))) ++written;
      EXPECT_EQ(written, expected_frames);
      EXPECT_FALSE(producer.try_push(9, bytes_of(first)));  // full stays full
      producer.publish();
      EXPECT_EQ(ring.control().tail.load(), tail);
      const std::size_t drained = consumer.drain([&](const Frame& frame) {
        EXPECT_EQ(frame.type, 9);
        EXPECT_TRUE(std::equal(first.begin(), first.end(), frame.payload.begin()));
      });
      EXPECT_EQ(drained, expected_frames);
      EXPECT_EQ(ring.control().head.load(), tail);
      EXPECT_EQ(consumer.bad_frames(), 0u);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST(Ring, FullRingRefusesUntilTheConsumerReleases) {
  LocalRing ring(256);
  RingProducer producer = ring.producer();
  RingConsumer consumer = ring.consumer();
  const auto payload = pattern(52, 3);  // frame_size 64: exactly four fit
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(producer.try_push(1, bytes_of(payload)));
  EXPECT_EQ(producer.free_bytes(), 0u);
  EXPECT_FALSE(producer.try_push(1, bytes_of(payload)));
  EXPECT_EQ(producer.try_reserve(0), nullptr);
  ASSERT_TRUE(consumer.peek().has_value());
  EXPECT_FALSE(producer.try_push(1, bytes_of(payload)));  // peeked is not released
  consumer.release();
  EXPECT_TRUE(producer.try_push(1, bytes_of(payload)));
  EXPECT_EQ(consumer.drain([](const Frame&) {}), 4u);
}

TEST(Ring, CommittedFramesStayInvisibleUntilOnePublish) {
  LocalRing ring(4096);
  RingProducer producer = ring.producer();
  RingConsumer consumer = ring.consumer();
  for (uint8_t i = 0; i < 10; ++i) ASSERT_TRUE(producer.try_write(i, bytes_of(pattern(i * 10, i))));
  EXPECT_TRUE(producer.has_unpublished());
  EXPECT_EQ(ring.control().tail.load(), 0u);
  EXPECT_FALSE(consumer.has_frames());
  EXPECT_TRUE(producer.publish());
  EXPECT_FALSE(producer.publish());  // nothing new
  uint8_t expected = 0;
  consumer.drain([&](const Frame& frame) {
    EXPECT_EQ(frame.type, expected);
    EXPECT_EQ(frame.payload.size(), expected * 10u);
    ++expected;
  });
  EXPECT_EQ(expected, 10);
}

TEST(Ring, ReserveThenCommitFewerBytes) {
  LocalRing ring(1024);
  RingProducer producer = ring.producer();
  std::byte* at = producer.try_reserve(300);
  ASSERT_NE(at, nullptr);
  std::memset(at, 0x5a, 10);
  EXPECT_THROW(producer.commit(1, 301), std::length_error);
  producer.commit(1, 10);
  EXPECT_THROW(producer.commit(1, 0), std::logic_error);  // no reservation any more
  producer.publish();
  EXPECT_EQ(ring.control().tail.load(), frame_size(10));
  auto frame = ring.consumer().peek();
  ASSERT_TRUE(frame.has_value());
  ASSERT_EQ(frame->payload.size(), 10u);
  EXPECT_EQ(frame->payload[9], std::byte{0x5a});
}

TEST(Ring, PeekTwiceGivesTheSameFrameAndDrainHonoursItsLimit) {
  LocalRing ring(1024);
  RingProducer producer = ring.producer();
  RingConsumer consumer = ring.consumer();
  for (uint16_t t = 1; t <= 5; ++t) producer.try_write(t, {});
  producer.publish();
  EXPECT_EQ(consumer.peek()->type, 1);
  EXPECT_EQ(consumer.peek()->type, 1);
  consumer.release();
  EXPECT_EQ(consumer.drain([](const Frame&) {}, 2), 2u);
  EXPECT_EQ(consumer.peek()->type, 4);
}

// Views hold only caches: a restarted process that builds new ones from the shared indices continues.
TEST(Ring, FreshViewsContinueFromTheSharedIndices) {
  LocalRing ring(512);
  {
    RingProducer producer = ring.producer();
    for (uint16_t t = 1; t <= 3; ++t) producer.try_write(t, bytes_of(pattern(20, 0)));
    producer.publish();
    producer.try_write(99, bytes_of(pattern(20, 0)));  // committed, never published: the "crash"
  }
  {
    RingConsumer consumer = ring.consumer();
    EXPECT_EQ(consumer.peek()->type, 1);  // peeked, not released: a consumer "crash"
  }
  RingConsumer consumer = ring.consumer();
  EXPECT_EQ(consumer.peek()->type, 1);  // seen again
  consumer.release();
  RingProducer successor = ring.producer();
  for (uint16_t t = 4; t <= 40; ++t) {
    while (!successor.try_push(t, bytes_of(pattern(20, 0)))) consumer.drain([](const Frame&) {}, 1);
  }
  std::vector<uint16_t> types;
  // The first frames (2, 3) may already have been drained above to make room; what remains is in order.
  consumer.drain([&](const Frame& frame) { types.push_back(frame.type); });
  ASSERT_FALSE(types.empty());
  EXPECT_EQ(types.back(), 40);
  for (std::size_t i = 1; i < types.size(); ++i) EXPECT_EQ(types[i], types[i - 1] + 1);
  EXPECT_EQ(consumer.bad_frames(), 0u);
}

// --- corruption: counted, skipped, never an out-of-bounds read (ASan watches the LocalRing buffer) ---

class RingCorruption : public ::testing::Test {
 protected:
  LocalRing ring{512};
  RingProducer producer = ring.producer();
  RingConsumer consumer = ring.consumer();

  void push(uint16_t type, uint32_t length) {
    ASSERT_TRUE(producer.try_push(type, bytes_of(pattern(length, 9))));
  }
  FrameHeader header_at(uint64_t position) {
    FrameHeader h;
    std::memcpy(&h, ring.buffer() + position % ring.capacity(), sizeof h);
    return h;
  }
  void put_header_at(uint64_t position, const FrameHeader& h) {
    std::memcpy(ring.buffer() + position % ring.capacity(), &h, sizeof h);
  }
  // After a resynchronisation, the ring must carry new frames normally again.
  void expect_recovers() {
    push(77, 5);
    auto frame = consumer.peek();
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ(frame->type, 77);
    consumer.release();
  }
};

TEST_F(RingCorruption, FlippedPayloadByteIsCountedAndSkipped) {
  push(1, 40);
  push(2, 40);
  ring.buffer()[sizeof(FrameHeader) + 3] ^= std::byte{0x10};
  EXPECT_FALSE(consumer.peek().has_value());  // bad frame: everything visible dropped
  EXPECT_EQ(consumer.bad_frames(), 1u);
  EXPECT_EQ(consumer.dropped_bytes(), 2 * frame_size(40));
  EXPECT_EQ(ring.control().head.load(), ring.control().tail.load());
  expect_recovers();
}

TEST_F(RingCorruption, CorruptSecondFrameKeepsTheFirst) {
  push(1, 16);
  push(2, 16);
  ring.buffer()[frame_size(16) + sizeof(FrameHeader)] ^= std::byte{1};
  auto frame = consumer.peek();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->type, 1);
  consumer.release();
  EXPECT_FALSE(consumer.peek().has_value());
  EXPECT_EQ(consumer.bad_frames(), 1u);
  expect_recovers();
}

TEST_F(RingCorruption, LengthsBeyondTheRingOrTheVisibleBytes) {
  for (uint32_t bad_length : {0xFFFFFFF0u, max_payload_for(512) + 1, 100u, 13u}) {
    SCOPED_TRACE(bad_length);
    const uint64_t at = ring.control().tail.load();
    push(1, 12);  // frame_size 24: lengths 13+ claim bytes that are not there or break the CRC
    FrameHeader h = header_at(at);
    h.length = bad_length;
    put_header_at(at, h);
    const uint64_t before = consumer.bad_frames();
    EXPECT_FALSE(consumer.peek().has_value());
    EXPECT_EQ(consumer.bad_frames(), before + 1);
    expect_recovers();
  }
}

TEST_F(RingCorruption, PadMarkerWithoutAFollowingFrame) {
  push(1, 12);
  std::memcpy(ring.buffer(), &kPadMarker, sizeof kPadMarker);  // a pad claims the rest of the buffer
  EXPECT_FALSE(consumer.peek().has_value());
  EXPECT_EQ(consumer.bad_frames(), 1u);
  expect_recovers();
}

TEST_F(RingCorruption, ScribbledIndices) {
  push(1, 12);
  ring.control().tail.store(ring.control().head.load() + 5 * ring.capacity());  // beyond capacity
  EXPECT_FALSE(consumer.peek().has_value());
  EXPECT_EQ(consumer.bad_frames(), 1u);
  ring.control().tail.store(ring.control().tail.load() + 3);  // unaligned
  EXPECT_FALSE(consumer.peek().has_value());
  EXPECT_EQ(consumer.bad_frames(), 2u);
  // A producer restarted over the scribbled tail rounds it up and carries on; the consumer resyncs.
  producer = ring.producer();
  consumer = ring.consumer();
  push(2, 12);
  consumer.drain([](const Frame&) {});
  expect_recovers();
}

// Found by ring_fuzz (tests/fuzz/regressions/ring_fuzz/head-ahead-of-tail).
TEST_F(RingCorruption, HeadScribbledAheadOfTheTailIsNoExtraRoom) {
  // Garbage left the head 8 bytes ahead of the tail when both views were made. The consumer's
  // resynchronisation moves the head back to the tail; the producer must not count those 8 bytes as
  // free, or its last frame overwrites the first one before it is read.
  ring.control().tail.store(88);
  ring.control().head.store(96);
  producer = ring.producer();
  consumer = ring.consumer();
  EXPECT_FALSE(consumer.peek().has_value());
  EXPECT_EQ(consumer.bad_frames(), 1u);
  uint16_t pushed = 0;
  // Seven 64-byte frames (a pad before the last) leave 24 bytes free: the 32-byte frame must not fit.
  for (uint32_t length : {52u, 52u, 52u, 52u, 52u, 52u, 52u, 20u})
    if (producer.try_write(static_cast<uint16_t>(pushed + 1), bytes_of(pattern(length, 3)))) ++pushed;
  EXPECT_EQ(pushed, 7);
  producer.publish();
  uint16_t read = 0;
  consumer.drain([&](const Frame& frame) { EXPECT_EQ(frame.type, ++read); });
  EXPECT_EQ(read, pushed);
  EXPECT_EQ(consumer.bad_frames(), 1u);
}

// Random scribbles over buffer and indices: whatever the consumer returns must be a genuine frame, and
// it must never crash or read outside the buffer.
TEST(RingFuzz, RandomScribblesAreSurvived) {
  std::string replay;
  const uint64_t seed = test::test_seed(&replay);
  SCOPED_TRACE(replay);
  std::mt19937_64 rng(seed);
  LocalRing ring(1024);
  uint64_t seq = 0, genuine = 0;
  for (int round = 0; round < 20000; ++round) {
    RingProducer producer = ring.producer();
    RingConsumer consumer = ring.consumer();
    for (int i = rng() % 6; i > 0; --i) {
      const uint32_t length = test::payload_length(seq, 200);
      std::byte* at = producer.try_reserve(length);
      if (at == nullptr) break;
      test::fill_payload(at, length, seq++);
      producer.commit(3, length);
    }
    producer.publish();
    switch (rng() % 4) {
      case 0:
        for (int k = rng() % 4; k >= 0; --k)
          ring.buffer()[rng() % ring.capacity()] = static_cast<std::byte>(rng());
        break;
      case 1: {
        const uint64_t word = rng();
        std::memcpy(ring.buffer() + (rng() % (ring.capacity() / 8)) * 8, &word, 8);
        break;
      }
      case 2:
        if (rng() % 8 == 0) ring.control().tail.store(ring.control().head.load() + rng() % 4096);
        break;
      default:
        break;
    }
    consumer.drain([&](const Frame& frame) {
      ASSERT_EQ(frame.type, 3);
      ASSERT_TRUE(test::payload_matches(frame.payload, test::payload_seq(frame.payload)));
      ++genuine;
    });
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(genuine, 0u);
  EXPECT_GT(ring.control().bad_frames.load(), 0u);
}

// Threaded stream with random batch sizes and the adaptive doorbell wait: TSan checks the memory orders.
TEST(RingThreads, StreamKeepsOrderAndContent) {
  std::string replay;
  const uint64_t seed = test::test_seed(&replay);
  SCOPED_TRACE(replay);
  constexpr uint64_t kFrames = test::kThreadSanitizer ? 100'000 : 1'000'000;
  LocalRing ring(8192);
  Doorbell bell;
  std::atomic<bool> stop{false};  // set when the consumer fails, so the producer does not wait forever
  std::thread producer_thread([&] {
    std::mt19937_64 rng(seed);
    RingProducer producer = ring.producer(&bell);
    uint64_t seq = 0;
    while (seq < kFrames && !stop.load(std::memory_order_relaxed)) {
      const uint64_t batch = 1 + rng() % 16;
      for (uint64_t i = 0; i < batch && seq < kFrames; ++i) {
        const uint32_t length = test::payload_length(seq, 300);
        std::byte* at;
        while ((at = producer.try_reserve(length)) == nullptr) {
          producer.publish();
          if (stop.load(std::memory_order_relaxed)) return;
          std::this_thread::yield();
        }
        test::fill_payload(at, length, seq);
        producer.commit(static_cast<uint16_t>(seq), length);
        ++seq;
      }
      producer.publish();
    }
  });
  RingConsumer consumer = ring.consumer();
  Waiter waiter(bell, WaitStrategy::adaptive);
  uint64_t expected = 0;
  while (expected < kFrames) {
    waiter.wait([&] { return consumer.has_frames(); });
    consumer.drain([&](const Frame& frame) {
      ASSERT_EQ(test::payload_seq(frame.payload), expected);
      ASSERT_EQ(frame.type, static_cast<uint16_t>(expected));
      ASSERT_TRUE(test::payload_matches(frame.payload, expected));
      ++expected;
    });
    if (::testing::Test::HasFatalFailure()) break;
  }
  stop.store(true);
  producer_thread.join();
  EXPECT_EQ(expected, kFrames);
  EXPECT_FALSE(consumer.has_frames());
  EXPECT_EQ(consumer.bad_frames(), 0u);
}

}  // namespace
}  // namespace shmraft::ipc
