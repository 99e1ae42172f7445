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
inline uintptr_t page_size() noexcept {
  return static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
}

// The guest's page tables only.
inline void map_in_guest(const std::byte* start, std::size_t bytes, RingUse use) noexcept {
#if defined(MADV_POPULATE_READ) && defined(MADV_POPULATE_WRITE)
  if (bytes == 0) return;
  const uintptr_t first = reinterpret_cast<uintptr_t>(start) & ~(page_size() - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(start) + bytes;
  ::madvise(reinterpret_cast<void*>(first), end - first,
            use == RingUse::write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
#else
  (void)start, (void)bytes, (void)use;
#endif
}

// The hypervisor's part (above): a read of each page. A write needs no more once the guest's entry is
// writable (MADV_POPULATE_WRITE): the page's first write after this read took 0.02 us.
inline void read_pages(const std::byte* start, std::size_t bytes) noexcept {
  if (bytes == 0) return;
  const uintptr_t page = page_size();
  const uintptr_t end = reinterpret_cast<uintptr_t>(start) + bytes;
  for (uintptr_t at = reinterpret_cast<uintptr_t>(start) & ~(page - 1); at < end; at += page)
    (void)__atomic_load_n(reinterpret_cast<const unsigned char*>(at), __ATOMIC_RELAXED);
}

// Calls span(start, bytes) for the `bytes` of ring `ring` from where `use` goes next, wrapping at its
// end: one span or two.
template <class Span>
void for_window(Segment& segment, uint32_t ring, RingUse use, uint64_t bytes, Span&& span) noexcept {
  const SegmentLayout& layout = segment.layout();
  const uint64_t capacity = layout.ring_capacity(ring);
  // The header sits at the start of the mapping (layout.h), so it locates the ring's buffer.
  const std::byte* buffer =
      reinterpret_cast<const std::byte*>(&segment.header()) + layout.ring_buffer_offset(ring);
  if (bytes >= capacity) return span(buffer, capacity);
  const RingControl& control = segment.ring_control(ring);
  const uint64_t at =
      (use == RingUse::write ? control.tail : control.head).load(std::memory_order_relaxed) & (capacity - 1);
  const uint64_t before_end = std::min(bytes, capacity - at);
  span(buffer + at, before_end);
  span(buffer, bytes - before_end);
}
}  // namespace detail

// Populates `bytes` of ring `ring` (SegmentLayout numbering) from where `use` goes next (the producer's
// tail, the consumer's head), wrapping at the end; the whole ring by default. The first `read_bytes` of
// them (all by default) are also read, page by page: 7-35 us a page, where the guest's part costs ~1.
inline void populate_ring(Segment& segment, uint32_t ring, RingUse use,
                          uint64_t bytes = std::numeric_limits<uint64_t>::max(),
                          uint64_t read_bytes = std::numeric_limits<uint64_t>::max()) noexcept {
  detail::for_window(segment, ring, use, bytes,
                     [use](const std::byte* start, std::size_t n) { detail::map_in_guest(start, n, use); });
  detail::for_window(segment, ring, use, std::min(bytes, read_bytes), detail::read_pages);
}

}  // namespace shmraft::ipc
