#pragma once
// The log's one background thread. It does the two slow things about segments that the node loop must
// never wait for:
//
// * Closing removed segments. Removing a segment unlinks its name at once, on the caller's thread, which
//   keeps every ordering a crash relies on. What is deferred is the unmap and the last close of the
//   unlinked file: that frees its blocks, and freeing can wait on the device. On ext4 mounted with
//   `discard` (as on this project's CI VM) the closing thread waits for a discard of the whole segment:
//   for 64 MiB, unmap ~2 ms and close ~4.5 ms on an idle disk, 17-300 ms seen under a 64-client bench's
//   writeback, every commit held up meanwhile.
// * Faulting in the pages ahead of the active segment's append point, so that appends store into pages
//   already mapped writable. The first store into a page of the preallocated file costs a page fault
//   (page-cache page allocated and zeroed, block_page_mkwrite) and, on this project's VMs, the
//   hypervisor's first touch of that memory: storing 64 records of 184 B into a fresh fallocated
//   mapping took 15-16 us (p50; ~12 us per 4 KiB page), into pages a second thread had touched first
//   0.9 us. At 64 in-flight operations that was a fault every ~100 entries on every node's commit path.
//   The touch must be an access from this process: MADV_POPULATE_WRITE alone left the stores at 15 us
//   (the hypervisor still maps each page at its first access).
//
// The thread runs at SCHED_IDLE, so a node thread woken on its CPU always takes the CPU at once; when the
// host has no idle time the faulting is left to the appends, as before. Because the same
// thread also unmaps removed segments, it never touches a mapping after it was unmapped: a segment the log
// removes is queued here, and the thread closes it only between two chunks of faulting.
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "node/storage/segment.h"

namespace shmraft::storage {

class SegmentWorker {
 public:
  SegmentWorker() = default;
  SegmentWorker(const SegmentWorker&) = delete;
  SegmentWorker& operator=(const SegmentWorker&) = delete;
  // Closes whatever is still queued, then joins the thread.
  ~SegmentWorker();

  // Takes a segment whose file is already removed. If it is the one being faulted in, that stops.
  void close_later(Segment&& segment);

  // Faults in the pages of `mapping` (an active segment's, which stays mapped until it is handed to
  // close_later) over [from, to): on a new mapping from `from`, on the same one from where the thread
  // got to or `from`, whichever is further. Cheap to call again with a growing `to`: one lock and, when
  // the thread sleeps, one wake-up. The thread starts with the first call to either function.
  void fault_in(std::span<std::byte> mapping, std::size_t from, std::size_t to);

 private:
  void run();
  void start_locked();
  // One page: a write that changes no byte, so it may race an append into the same page.
  static void touch(std::byte* page) noexcept;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Segment> queue_;
  std::span<std::byte> mapping_;  // being faulted in; empty once it is queued for closing
  std::size_t done_ = 0;          // faulted in (or appended to) below this offset of mapping_
  std::size_t to_ = 0;            // fault in up to here
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace shmraft::storage
