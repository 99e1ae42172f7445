// The log's background thread (segment_worker.h): it faults in the pages ahead of the append point, so
// that appends store into pages already mapped, and it never touches a segment after closing it.
#include "node/storage/segment_worker.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "node/storage/segment.h"
#include "storage_test_support.h"

namespace shmraft::storage {
namespace {

using namespace testing;
using namespace std::chrono_literals;

constexpr std::size_t kPage = 4096;

// Whether every page of [begin, begin + bytes) is mapped in this process's page tables right now
// (/proc/self/pagemap bit 63), which is what an append storing there without a fault needs.
bool mapped(const std::byte* begin, std::size_t bytes) {
  const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) ADD_FAILURE() << "cannot open /proc/self/pagemap";
  bool all = fd >= 0;
  for (std::size_t offset = 0; all && offset < bytes; offset += kPage) {
    uint64_t entry = 0;
    const auto page = reinterpret_cast<uintptr_t>(begin + offset) / kPage;
    all = ::pread(fd, &entry, sizeof entry, static_cast<off_t>(page * sizeof entry)) == sizeof entry &&
          (entry >> 63) != 0;
  }
  if (fd >= 0) ::close(fd);
  return all;
}

// The worker runs at SCHED_IDLE: on a busy host it gets a CPU rarely, hence the long wait.
bool becomes_mapped(const std::byte* begin, std::size_t bytes) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!mapped(begin, bytes)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

long faults_of_this_thread() {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt + usage.ru_majflt;
}

Segment fresh_segment(const TempDir& tmp, std::size_t bytes) {
  fs::create_directories(tmp.path() / "log");
  StorageStats stats;
  Segment segment = Segment::create(tmp.path() / "log", 1, bytes, false, stats);
  return segment;
}

TEST(SegmentWorker, FaultsInTheRequestedPagesAndNoOthers) {
  TempDir tmp;
  Segment segment = fresh_segment(tmp, 4 << 20);
  std::byte* base = segment.writable_bytes().data();
  ASSERT_FALSE(mapped(base + 64 * kPage, kPage)) << "a fresh segment's pages are not mapped yet";
  {
    SegmentWorker worker;
    worker.fault_in(segment.writable_bytes(), 64 * kPage, 128 * kPage);
    ASSERT_TRUE(becomes_mapped(base + 64 * kPage, 64 * kPage));
    // Stores into them take no fault on this thread: the worker's write mapped them writable.
    const long before = faults_of_this_thread();
    for (std::size_t offset = 64 * kPage; offset < 128 * kPage; offset += kPage) {
      std::memset(base + offset + 8, 0x5a, 100);
    }
    EXPECT_EQ(faults_of_this_thread(), before);
  }
  EXPECT_FALSE(mapped(base + 128 * kPage, kPage)) << "the worker went past what it was asked for";
  // Its touches changed no byte.
  for (std::size_t offset = 64 * kPage; offset < 128 * kPage; offset += kPage) {
    for (std::size_t i = 0; i < 8; ++i) ASSERT_EQ(base[offset + i], std::byte{0}) << offset + i;
  }
}

// A segment closed while being faulted in is unmapped by the worker itself, between two chunks: it never
// touches the mapping afterwards (which would be a SIGSEGV).
TEST(SegmentWorker, ClosingTheSegmentBeingFaultedInStopsIt) {
  TempDir tmp;
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    SegmentWorker worker;
    Segment segment = fresh_segment(tmp, 8 << 20);
    worker.fault_in(segment.writable_bytes(), 0, 8 << 20);
    std::this_thread::sleep_for(std::chrono::microseconds(50 * round));
    segment.remove_file();
    worker.close_later(std::move(segment));
    Segment next = fresh_segment(tmp, 8 << 20);  // may be mapped where the closed one was
    worker.fault_in(next.writable_bytes(), 0, 64 * kPage);
    ASSERT_TRUE(becomes_mapped(next.bytes().data(), 64 * kPage));
    // As the log does with every segment: the worker unmaps it (it may still be faulting it in).
    next.remove_file();
    worker.close_later(std::move(next));
  }
}

// Through the log: after an append, the pages after the last record are faulted in, in a new segment
// too, where the appends start at once.
TEST(SegmentWorker, AppendsFindThePagesAheadOfThemFaultedIn) {
  TempDir tmp;
  Options options = options_with(Durability::none);
  options.segment_bytes = 1 << 20;
  NodeStorage storage(tmp.node(), options);
  uint64_t next = 1;
  for (int segment = 0; segment < 3; ++segment) {
    SCOPED_TRACE(segment);
    const uint64_t segments_before = storage.stats().segments_created;
    while (storage.stats().segments_created == segments_before) {
      append_range(storage, next, next + 63, 1, 64, 150);
      next += 64;
    }
    // The newest segment's mapping, found by its file name.
    fs::path file;
    for (const auto& item : fs::directory_iterator(tmp.node() / "log")) file = std::max(file, item.path());
    std::ifstream maps("/proc/self/maps");
    const std::byte* begin = nullptr;
    const std::string name = file.string();
    std::string line;
    while (std::getline(maps, line)) {
      if (line.size() > name.size() && line.ends_with(name) && line[line.size() - name.size() - 1] == ' ') {
        begin = reinterpret_cast<const std::byte*>(std::stoull(line.substr(0, line.find('-')), nullptr, 16));
      }
    }
    ASSERT_NE(begin, nullptr) << "no mapping of " << file;
    // The batch went into the first pages; everything up to 256 KiB is faulted in ahead of it.
    EXPECT_TRUE(becomes_mapped(begin, 256 << 10));
  }
}

}  // namespace
}  // namespace shmraft::storage
