// populate_ring: which pages of a ring it brings in (mincore: a tmpfs page exists once populated), and
// that it leaves the ring's bytes and indices alone.
#include "ipc/populate.h"

#include <sys/mman.h>
#include <unistd.h>

#include <vector>

#include "test_support.h"

namespace shmraft::ipc {
namespace {

using test::ScopedCluster;

constexpr uint64_t kRingBytes = 64 << 10;

Segment make_segment(const ScopedCluster& cluster) {
  SegmentConfig config = test::tiny_config(2);
  config.peer_ring_capacity = kRingBytes;
  return Segment::create(cluster.name(), config);
}

const std::byte* ring_start(Segment& segment, uint32_t ring) {
  return reinterpret_cast<const std::byte*>(&segment.header()) + segment.layout().ring_buffer_offset(ring);
}

// Whether each page of the ring is in memory.
std::vector<bool> resident_pages(Segment& segment, uint32_t ring) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in(kRingBytes / page);
  EXPECT_EQ(::mincore(const_cast<std::byte*>(ring_start(segment, ring)), kRingBytes, in.data()), 0);
  std::vector<bool> pages;
  for (unsigned char p : in) pages.push_back((p & 1) != 0);
  return pages;
}

TEST(PopulateRing, TheWholeRingIsBroughtInAndItsFramesAreKept) {
  ScopedCluster cluster;
  Segment segment = make_segment(cluster);
  const uint32_t ring = segment.layout().peer_ring(1, 2);
  RingProducer producer = segment.peer_producer(1, 2);
  const std::byte payload[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
  ASSERT_TRUE(producer.try_push(7, payload));
  std::vector<bool> before = resident_pages(segment, ring);
  EXPECT_TRUE(before.front());  // the frame's page
  EXPECT_FALSE(before.back());  // never written: a tmpfs hole

  populate_ring(segment, ring, RingUse::write);

  for (bool in : resident_pages(segment, ring)) EXPECT_TRUE(in);
  RingConsumer consumer = segment.peer_consumer(1, 2);
  const std::optional<Frame> frame = consumer.peek();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->type, 7);
  ASSERT_EQ(frame->payload.size(), 3u);
  EXPECT_EQ(frame->payload[2], std::byte{3});
  EXPECT_EQ(segment.ring_control(ring).head.load(), 0u);
}

TEST(PopulateRing, AWindowStartsAtTheProducersTailAndWrapsToTheStart) {
  ScopedCluster cluster;
  Segment segment = make_segment(cluster);
  const uint32_t ring = segment.layout().peer_ring(2, 1);
  // As if a producer had written all but the last 100 bytes of the ring, and the consumer read them.
  segment.ring_control(ring).tail.store(kRingBytes - 104);
  segment.ring_control(ring).head.store(kRingBytes - 104);

  populate_ring(segment, ring, RingUse::write, 8192);

  const std::vector<bool> in = resident_pages(segment, ring);
  const std::size_t pages = in.size();
  EXPECT_TRUE(in[pages - 1]);  // the tail's page
  EXPECT_TRUE(in[0]);          // the rest of the window, past the end
  EXPECT_TRUE(in[1]);
  for (std::size_t p = 2; p < pages - 1; ++p) EXPECT_FALSE(in[p]) << "page " << p;
}

TEST(PopulateRing, AReadWindowStartsAtTheConsumersHead) {
  ScopedCluster cluster;
  Segment segment = make_segment(cluster);
  const uint32_t ring = segment.layout().peer_ring(1, 2);
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  segment.ring_control(ring).tail.store(5 * page);  // the producer's side says nothing here
  segment.ring_control(ring).head.store(3 * page);

  populate_ring(segment, ring, RingUse::read, page);

  const std::vector<bool> in = resident_pages(segment, ring);
  for (std::size_t p = 0; p < in.size(); ++p) EXPECT_EQ(in[p], p == 3) << "page " << p;
}

}  // namespace
}  // namespace shmraft::ipc
