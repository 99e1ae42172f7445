#pragma once
// Prepares the log's next segment file on a thread of its own, so that a roll costs the loop neither the
// file's creation (fallocate, mmap) nor a page fault on its first write to each 4 KiB of it.
//
// Those faults were the cost: a new mapped segment took ~2 500 minor faults per 16 MiB of records
// written into it (~2 000-4 000 per node in the second after each roll in a 64-client bench, every node
// at the same index), each a page-cache allocation and ext4's page_mkwrite on the loop. Populating ahead
// on the loop's own thread was measured worse (6 December). Here a thread creates log/spare-<n>.tmp,
// preallocates it, maps it and touches every page for writing, over ~1 s (a store of the zero it holds:
// dirty zeros in the page cache, what the file reads as anyway). The loop takes it at a roll
// (Segment::from_spare), never waiting: a spare that is not ready, or of the wrong size, leaves the loop to
// Segment::create as before.
//
// Crash orderings are unchanged: a spare is a *.tmp file, which recovery removes like an interrupted
// creation (recovery.cpp), and it gets its header and its real name on the loop, in Segment::create's
// order: header flushed (msync of its page, which like fdatasync makes the preallocated size durable, but
// leaves the touched pages alone), renamed, directory fsynced. The thread flushes nothing.
//
// The thread starts with the first take(), when the log's first segment is made: from then on one spare
// segment file waits in log/.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "node/storage/file.h"

namespace shmraft::storage {

// A preallocated, mapped segment file of `bytes` without a header, under a temporary name.
struct SpareSegment {
  std::filesystem::path path;
  UniqueFd fd;
  Mapping mapping;
};

class SegmentPreparer {
 public:
  SegmentPreparer(std::filesystem::path log_dir, std::size_t segment_bytes)
      : log_dir_(std::move(log_dir)), segment_bytes_(segment_bytes) {}
  SegmentPreparer(const SegmentPreparer&) = delete;
  SegmentPreparer& operator=(const SegmentPreparer&) = delete;
  // Stops a preparation at its next step, joins, and removes a spare nobody took.
  ~SegmentPreparer();

  // The spare, if one is ready; never waits. Then starts preparing the next one.
  std::optional<SpareSegment> take();
  // Whether take() would return a spare now: for tests.
  bool ready();

 private:
  void run();
  SpareSegment prepare(uint64_t number) const;

  std::filesystem::path log_dir_;
  std::size_t segment_bytes_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<SpareSegment> spare_;
  bool wanted_ = false;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace shmraft::storage
