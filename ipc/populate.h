#pragma once
// Maps a ring's pages into this process before their first use. On this VM a page fault costs 7-26 us
// (a read fault 7, a write fault 13-18, a write after a read 26), while MADV_POPULATE_READ/WRITE maps a
// page in 0.3-1.8 us. A fail-over writes to rings this process never touched (vote requests to the other
// followers, replies from the new leader to its clients), and the stamped `bench --failover --nodes 5`
// showed a write fault of 50-80 us per ring there, in the candidate's round, on a loaded host.
// MADV_POPULATE_* fills only the guest's page tables: this VM is a PVM guest, whose hypervisor maps a page
// for a process at that process's first access to it, 7-35 us a page, counted in no guest fault (a
// populated page's first read took 7-19 us, its first write 7-35 us; once read, 0.02 us). So each page
// is also read once here. A candidate's first read of 16 client rings cost ~0.2 ms that way, on the path
// of a 5-node × 16-client election (perf: 23 % of the candidate's samples on that first load).
//
//     ipc::populate_ring(segment, segment.layout().peer_ring(self, peer), ipc::RingUse::write);
//     ipc::populate_ring(segment, ring, ipc::RingUse::read, 4096);  // the 4 KiB from the read position
//
// Best effort: a kernel without MADV_POPULATE_* (before 5.14) leaves the guest's part to the first read
// here. Populating changes no byte of the ring; only this process's page tables, and the segment's memory
// use (tmpfs allocates a page the first time anyone writes it). A read of the ring's bytes races with
// nothing: it is an atomic load, and its value is dropped.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <limits>

#include "ipc/segment.h"

namespace shmraft::ipc {

enum class RingUse { read, write };  // as the consumer (read) or the producer (write)

namespace detail {
inline void populate_bytes(const std::byte* start, std::size_t bytes, RingUse use) noexcept {
  if (bytes == 0) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = reinterpret_cast<uintptr_t>(start) & ~(page - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(start) + bytes;
#if defined(MADV_POPULATE_READ) && defined(MADV_POPULATE_WRITE)
  ::madvise(reinterpret_cast<void*>(first), end - first,
            use == RingUse::write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
#else
  (void)use;
#endif
  // The hypervisor's part (above): a read of each page. A write needs no more once the guest's entry is
  // writable (MADV_POPULATE_WRITE): the page's first write after this read took 0.02 us.
  for (uintptr_t at = first; at < end; at += page)
    (void)__atomic_load_n(reinterpret_cast<const unsigned char*>(at), __ATOMIC_RELAXED);
}
}  // namespace detail

// Populates `bytes` of ring `ring` (SegmentLayout numbering) from where `use` goes next (the producer's
// tail, the consumer's head), wrapping at the end; the whole ring by default.
inline void populate_ring(Segment& segment, uint32_t ring, RingUse use,
                          uint64_t bytes = std::numeric_limits<uint64_t>::max()) noexcept {
  const SegmentLayout& layout = segment.layout();
  const uint64_t capacity = layout.ring_capacity(ring);
  // The header sits at the start of the mapping (layout.h), so it locates the ring's buffer.
  const std::byte* buffer =
      reinterpret_cast<const std::byte*>(&segment.header()) + layout.ring_buffer_offset(ring);
  if (bytes >= capacity) return detail::populate_bytes(buffer, capacity, use);
  const RingControl& control = segment.ring_control(ring);
  const uint64_t at =
      (use == RingUse::write ? control.tail : control.head).load(std::memory_order_relaxed) & (capacity - 1);
  const uint64_t before_end = std::min(bytes, capacity - at);
  detail::populate_bytes(buffer + at, before_end, use);
  detail::populate_bytes(buffer, bytes - before_end, use);
}

}  // namespace shmraft::ipc
