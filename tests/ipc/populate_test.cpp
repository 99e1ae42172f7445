// populate_ring: which pages of a ring it brings in (mincore: a tmpfs page exists once populated), that
// it reads each of them (the hypervisor maps a page only at a read or write), and that it leaves the
// ring's bytes and indices alone.
#include "ipc/populate.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <limits>
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

// The pages a call reads, in order: the ring is made inaccessible, and each access's SIGSEGV records its
// page and gives the page back, so the access is retried and succeeds.
std::vector<uintptr_t> g_accessed_pages;  // NOLINT: the signal handler's record
uintptr_t g_page_size = 0;                // NOLINT

void record_access(int, siginfo_t* info, void*) {
  const uintptr_t page = reinterpret_cast<uintptr_t>(info->si_addr) & ~(g_page_size - 1);
  g_accessed_pages.push_back(page);
  ::mprotect(reinterpret_cast<void*>(page), g_page_size, PROT_READ | PROT_WRITE);
}

// Page numbers (in the ring) that populate_ring(segment, ring, use, bytes, read_bytes) accesses.
std::vector<uint64_t> pages_accessed(Segment& segment, uint32_t ring, RingUse use, uint64_t bytes,
                                     uint64_t read_bytes = std::numeric_limits<uint64_t>::max()) {
  g_page_size = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto start = reinterpret_cast<uintptr_t>(ring_start(segment, ring));
  g_accessed_pages.clear();
  g_accessed_pages.reserve(kRingBytes / g_page_size);
  struct sigaction act {};
  struct sigaction old {};
  act.sa_sigaction = record_access;
  act.sa_flags = SA_SIGINFO;
  sigemptyset(&act.sa_mask);
  EXPECT_EQ(::sigaction(SIGSEGV, &act, &old), 0);
  EXPECT_EQ(::mprotect(reinterpret_cast<void*>(start), kRingBytes, PROT_NONE), 0);
  populate_ring(segment, ring, use, bytes, read_bytes);
  EXPECT_EQ(::mprotect(reinterpret_cast<void*>(start), kRingBytes, PROT_READ | PROT_WRITE), 0);
  EXPECT_EQ(::sigaction(SIGSEGV, &old, nullptr), 0);
  std::vector<uint64_t> pages;
  for (uintptr_t page : g_accessed_pages) pages.push_back((page - start) / g_page_size);
  return pages;
}

TEST(PopulateRing, EachPageOfTheReadWindowIsReadOnceInOrder) {
  ScopedCluster cluster;
  Segment segment = make_segment(cluster);
  const uint32_t ring = segment.layout().peer_ring(2, 1);
  const uint64_t pages = kRingBytes / static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  // A window of 3 pages from the producer's tail in the last page: the last page, then the first two.
  segment.ring_control(ring).tail.store(kRingBytes - 104);
  segment.ring_control(ring).head.store(kRingBytes - 104);
  EXPECT_EQ(pages_accessed(segment, ring, RingUse::write, 8192), (std::vector<uint64_t>{pages - 1, 0, 1}));
  segment.ring_control(ring).head.store(0);
  EXPECT_EQ(pages_accessed(segment, ring, RingUse::read, 100), std::vector<uint64_t>{0});
  // The whole ring in the guest's tables, its first page (from the head) read.
  EXPECT_EQ(pages_accessed(segment, ring, RingUse::read, kRingBytes, 100), std::vector<uint64_t>{0});
  EXPECT_TRUE(pages_accessed(segment, ring, RingUse::write, 8192, 0).empty());
  std::vector<uint64_t> all(pages);
  for (uint64_t p = 0; p < pages; ++p) all[p] = p;
  EXPECT_EQ(pages_accessed(segment, ring, RingUse::read, kRingBytes), all);
}

}  // namespace
}  // namespace shmraft::ipc
