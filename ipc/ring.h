#pragma once
// Single-producer single-consumer byte ring of variable-length CRC32C frames (DESIGN §2), in the manner
// of rigtorp/SPSCQueue but carrying bytes, living in shared memory, and surviving crashes and garbage.
//
// Shared state is a RingControl (two cache lines) plus a power-of-two byte buffer; both are plain bytes
// in the segment. Each process builds its own view over them — RingProducer or RingConsumer — and may
// build it afresh at any time (after a restart) from the shared indices alone. A view caches indices:
// use one producer view and one consumer view per ring at a time (moving a view is fine; using two
// copies of one is not).
//
// Producer (zero-copy, batched):
//     std::byte* p = producer.try_reserve(n);   // nullptr: ring full -> count a drop
//     ... write up to n bytes at p ...
//     producer.commit(type, used);              // used <= n; not yet visible
//     ... more reserve/commit ...
//     producer.publish();                       // one release store makes them all visible
//                                               // and rings the consumer's doorbell if one is attached
//   or simply producer.try_push(type, bytes) (= reserve + copy + commit + publish),
//   or try_write(...) several times and then publish().
// Consumer (zero-copy):
//     while (auto frame = consumer.peek()) { use(frame->type, frame->payload); consumer.release(); }
//   or consumer.drain([](const Frame& f) { ... }, max_frames)   // one head store for the whole batch
//
// Guarantees:
// - A frame is visible only after the producer's release store of `tail`; a producer killed mid-write
//   leaves nothing visible and a new RingProducer continues from the stored `tail`.
// - A consumer killed before release() sees the frame again when its successor builds a new view.
// - The consumer never reads outside the buffer and never trusts a length it has not checked: a frame
//   with a bad length, pad or CRC makes it drop everything currently visible (it cannot know where the
//   next good frame starts), count one bad frame in RingControl::bad_frames and the bytes in
//   dropped_bytes, and carry on with what the producer writes next.
// - Largest payload: capacity / 2 - 12 bytes (so an empty ring always has room for any frame).
// - Nothing allocates, locks or makes a syscall, except publish() when the consumer sleeps on its bell.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "ipc/doorbell.h"
#include "ipc/frame.h"

namespace shmraft::ipc {

// Shared part of a ring. Zero bytes = an empty ring.
struct RingControl {
  // Bytes ever published by the producer (monotonic, 8-byte multiple). Written only by the producer.
  alignas(kCacheLine) std::atomic<uint64_t> tail{0};
  // Bytes ever released by the consumer. The consumer's line also holds its counters, which only it
  // writes; readers (status) may see them a little stale.
  alignas(kCacheLine) std::atomic<uint64_t> head{0};
  std::atomic<uint64_t> bad_frames{0};     // resynchronisations after a bad length / pad / CRC
  std::atomic<uint64_t> dropped_bytes{0};  // bytes thrown away by those resynchronisations
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "ring indices must be lock-free in shm");
static_assert(sizeof(RingControl) == 2 * kCacheLine);

inline constexpr uint64_t kMinRingCapacity = 64;
inline constexpr uint64_t kMaxRingCapacity = uint64_t{1} << 30;

constexpr bool valid_ring_capacity(uint64_t capacity) noexcept {
  return capacity >= kMinRingCapacity && capacity <= kMaxRingCapacity && (capacity & (capacity - 1)) == 0;
}

// Largest payload a ring of this capacity accepts.
constexpr uint32_t max_payload_for(uint64_t capacity) noexcept {
  return static_cast<uint32_t>(capacity / 2 - sizeof(FrameHeader));
}

namespace detail {
inline void check_ring_capacity(uint64_t capacity) {
  if (!valid_ring_capacity(capacity))
    throw std::invalid_argument("ring capacity " + std::to_string(capacity) +
                                " is not a power of two between " + std::to_string(kMinRingCapacity) +
                                " and " + std::to_string(kMaxRingCapacity));
}
}  // namespace detail

class RingProducer {
 public:
  RingProducer() = default;  // an unusable placeholder until assigned a real view

  // `bell` (optional) is the consumer's doorbell, rung by publish().
  RingProducer(RingControl& control, std::byte* buffer, uint64_t capacity, Doorbell* bell = nullptr)
      : control_(&control),
        buffer_(buffer),
        bell_(bell),
        capacity_(capacity),
        mask_(capacity - 1),
        max_payload_(max_payload_for(capacity)) {
    detail::check_ring_capacity(capacity);
    // Our own index, left by us or by a predecessor that died: relaxed is enough, nothing it guards is
    // read. Rounded up so that a scribbled, unaligned value cannot make a pad write past the end.
    tail_ = published_ =
        (control.tail.load(std::memory_order_relaxed) + kFrameAlignment - 1) & ~uint64_t{kFrameAlignment - 1};
    // acquire: the consumer is done with every byte below head, so we may overwrite them.
    head_cache_ = control.head.load(std::memory_order_acquire);
  }

  uint32_t max_payload() const noexcept { return max_payload_; }
  uint64_t capacity() const noexcept { return capacity_; }

  // Reserves room for a frame of up to `length` payload bytes and returns where to write the payload,
  // or nullptr when the ring is full. Throws std::length_error if length > max_payload(). A second
  // try_reserve before commit() abandons the first reservation.
  std::byte* try_reserve(uint32_t length) {
    if (length > max_payload_) throw_too_long(length);
    const uint64_t size = frame_size(length);
    const uint64_t offset = tail_ & mask_;
    const uint64_t contiguous = capacity_ - offset;
    const uint64_t pad = size > contiguous ? contiguous : 0;  // frames never straddle the end
    const uint64_t need = pad + size;
    if (!has_room(need)) {
      // Only now look at the consumer's line (rigtorp's cached index): acquire, as in the constructor.
      head_cache_ = control_->head.load(std::memory_order_acquire);
      if (!has_room(need)) return nullptr;
    }
    if (pad != 0) std::memcpy(buffer_ + offset, &kPadMarker, sizeof kPadMarker);
    frame_start_ = tail_ + pad;
    reserved_ = length;
    has_reservation_ = true;
    return buffer_ + (frame_start_ & mask_) + sizeof(FrameHeader);
  }

  // Seals the reserved frame with `length` (<= reserved) payload bytes. Not visible until publish().
  void commit(uint16_t type, uint32_t length, uint16_t flags = 0) {
    if (!has_reservation_) throw std::logic_error("RingProducer::commit without a reservation");
    if (length > reserved_)
      throw std::length_error("committing " + std::to_string(length) + " bytes of a " +
                              std::to_string(reserved_) + "-byte reservation");
    std::byte* frame = buffer_ + (frame_start_ & mask_);
    const FrameHeader header{length, type, flags,
                             frame_crc(length, type, flags, frame + sizeof(FrameHeader))};
    std::memcpy(frame, &header, sizeof header);
    tail_ = frame_start_ + frame_size(length);
    has_reservation_ = false;
  }

  // Copies one frame in without publishing it. False when the ring is full.
  bool try_write(uint16_t type, std::span<const std::byte> payload, uint16_t flags = 0) {
    if (payload.size() > max_payload_) throw_too_long(payload.size());
    std::byte* at = try_reserve(static_cast<uint32_t>(payload.size()));
    if (at == nullptr) return false;
    if (!payload.empty()) std::memcpy(at, payload.data(), payload.size());
    commit(type, static_cast<uint32_t>(payload.size()), flags);
    return true;
  }

  // try_write + publish.
  bool try_push(uint16_t type, std::span<const std::byte> payload, uint16_t flags = 0) {
    if (!try_write(type, payload, flags)) return false;
    publish();
    return true;
  }

  // Makes every committed frame visible with one store, then rings the consumer's doorbell.
  // Returns false if there was nothing to publish.
  bool publish() noexcept {
    if (!publish_unrung()) return false;
    if (bell_ != nullptr) bell_->ring();
    return true;
  }

  // publish() without the doorbell, for a caller that rings once for many rings (or rings another bell).
  bool publish_unrung() noexcept {
    if (tail_ == published_) return false;
    // release: every header and payload byte written above becomes visible to the consumer's acquire
    // load of tail before it can see the new tail.
    control_->tail.store(tail_, std::memory_order_release);
    published_ = tail_;
    return true;
  }

  bool has_unpublished() const noexcept { return tail_ != published_; }

  // Free bytes right now (refreshes the cached head). A frame needs frame_size(n), plus a pad at the end.
  uint64_t free_bytes() noexcept {
    head_cache_ = control_->head.load(std::memory_order_acquire);
    const uint64_t used = tail_ - head_cache_;
    return used <= capacity_ ? capacity_ - used : 0;
  }

 private:
  // Whether `need` more bytes fit between tail_ and the cached head. A head ahead of our tail (left by
  // garbage, and moved back by the consumer's resynchronisation since) counts as no room, not as more:
  // trusting it would overwrite frames the consumer has not read (found by ring_fuzz).
  bool has_room(uint64_t need) const noexcept {
    const uint64_t used = tail_ - head_cache_;  // wraps to a huge value when the head is ahead of us
    return used <= capacity_ && need <= capacity_ - used;
  }

  [[noreturn]] void throw_too_long(std::size_t length) const {
    throw std::length_error("frame payload of " + std::to_string(length) +
                            " bytes exceeds the ring's maximum of " + std::to_string(max_payload_));
  }

  RingControl* control_ = nullptr;
  std::byte* buffer_ = nullptr;
  Doorbell* bell_ = nullptr;
  uint64_t capacity_ = 0;
  uint64_t mask_ = 0;
  uint32_t max_payload_ = 0;
  uint64_t tail_ = 0;        // end of the committed frames (ahead of the shared tail until publish)
  uint64_t published_ = 0;   // last value stored to the shared tail
  uint64_t head_cache_ = 0;  // consumer's head as last seen; refreshed only when the ring looks full
  uint64_t frame_start_ = 0;
  uint32_t reserved_ = 0;
  bool has_reservation_ = false;
};

class RingConsumer {
 public:
  RingConsumer() = default;  // an unusable placeholder until assigned a real view

  RingConsumer(RingControl& control, const std::byte* buffer, uint64_t capacity)
      : control_(&control),
        buffer_(buffer),
        capacity_(capacity),
        mask_(capacity - 1),
        max_payload_(max_payload_for(capacity)) {
    detail::check_ring_capacity(capacity);
    // Our own index: relaxed. tail_cache_ == head_ forces a fresh acquire load of tail on first use.
    head_ = published_ = tail_cache_ = control.head.load(std::memory_order_relaxed);
  }

  uint32_t max_payload() const noexcept { return max_payload_; }
  uint64_t capacity() const noexcept { return capacity_; }

  // True when the producer has published bytes we have not consumed (a cheap check for wait loops).
  bool has_frames() noexcept {
    if (head_ != tail_cache_) return true;
    tail_cache_ = control_->tail.load(std::memory_order_acquire);  // acquire: as in next()
    return head_ != tail_cache_;
  }

  // The oldest unreleased frame, or nullopt when none is visible. Peeking twice returns the same frame.
  std::optional<Frame> peek() noexcept {
    std::optional<Frame> frame = next();
    if (!frame) store_head();  // pads skipped on the way are given back to the producer
    return frame;
  }

  // Consumes the frame returned by the last peek(); its payload may be overwritten from now on.
  void release() noexcept {
    if (!has_peeked_) return;
    head_ = peeked_end_;
    has_peeked_ = false;
    store_head();
  }

  // Calls handler(const Frame&) for up to max_frames frames, then releases them all with one store.
  // The payload is valid only during the call.
  template <class Handler>
  std::size_t drain(Handler&& handler, std::size_t max_frames = SIZE_MAX) {
    std::size_t count = 0;
    while (count < max_frames) {
      std::optional<Frame> frame = next();
      if (!frame) break;
      handler(*frame);
      head_ = peeked_end_;
      has_peeked_ = false;
      ++count;
    }
    store_head();
    return count;
  }

  // Drops everything currently visible (a client taking over a slot ignores its predecessor's replies).
  uint64_t discard_all() noexcept {
    // acquire, as in next(): only then may the release of these bytes below hand them back to the producer
    // without a read of ours racing its writes (we read none, but keep the pairing uniform).
    tail_cache_ = control_->tail.load(std::memory_order_acquire);
    const uint64_t dropped = tail_cache_ - head_;
    head_ = tail_cache_;
    has_peeked_ = false;
    store_head();
    return dropped;
  }

  // Statistics only (nothing is read on their strength): relaxed.
  uint64_t bad_frames() const noexcept { return control_->bad_frames.load(std::memory_order_relaxed); }
  uint64_t dropped_bytes() const noexcept { return control_->dropped_bytes.load(std::memory_order_relaxed); }

 private:
  // Parses the frame at head_ without publishing anything but a resynchronisation.
  std::optional<Frame> next() noexcept {
    for (;;) {
      if (head_ == tail_cache_) {
        // acquire: pairs with the producer's release store in publish(), so every byte below the tail
        // we read is the producer's finished write.
        tail_cache_ = control_->tail.load(std::memory_order_acquire);
        if (head_ == tail_cache_) return std::nullopt;
      }
      const uint64_t visible = tail_cache_ - head_;
      const uint64_t offset = head_ & mask_;
      const uint64_t contiguous = capacity_ - offset;
      // Indices a correct producer cannot produce (also guards the 8-byte read below).
      if (visible > capacity_ || ((visible | offset) & (kFrameAlignment - 1)) != 0) {
        resynchronise();
        continue;
      }
      uint64_t first_word;
      std::memcpy(&first_word, buffer_ + offset, sizeof first_word);
      if (first_word == kPadMarker) {
        // A pad is published together with the frame after it, so all of it must be visible.
        if (visible < contiguous) {
          resynchronise();
          continue;
        }
        head_ += contiguous;
        continue;
      }
      if (contiguous < sizeof(FrameHeader) || visible < sizeof(FrameHeader)) {
        resynchronise();
        continue;
      }
      FrameHeader header;  // a local copy: checked once, never re-read from shared memory
      std::memcpy(&header, buffer_ + offset, sizeof header);
      const uint64_t size = frame_size(header.length);
      const std::byte* payload = buffer_ + offset + sizeof(FrameHeader);
      if (header.length > max_payload_ || size > visible || size > contiguous ||
          frame_crc(header.length, header.type, header.flags, payload) != header.crc) {
        resynchronise();
        continue;
      }
      peeked_end_ = head_ + size;
      has_peeked_ = true;
      return Frame{header.type, header.flags, std::span<const std::byte>(payload, header.length)};
    }
  }

  void resynchronise() noexcept {
    // Single writer of these counters: load + store instead of a locked RMW.
    control_->bad_frames.store(control_->bad_frames.load(std::memory_order_relaxed) + 1,
                               std::memory_order_relaxed);
    const uint64_t visible = tail_cache_ - head_;  // wraps if the shared tail was scribbled backwards
    control_->dropped_bytes.store(
        control_->dropped_bytes.load(std::memory_order_relaxed) + (visible <= capacity_ ? visible : 0),
        std::memory_order_relaxed);
    head_ = tail_cache_;
    has_peeked_ = false;
    store_head();
  }

  void store_head() noexcept {
    if (head_ == published_) return;
    // release: our reads of the bytes below head are finished before the producer, after its acquire
    // load of head, overwrites them.
    control_->head.store(head_, std::memory_order_release);
    published_ = head_;
  }

  RingControl* control_ = nullptr;
  const std::byte* buffer_ = nullptr;
  uint64_t capacity_ = 0;
  uint64_t mask_ = 0;
  uint32_t max_payload_ = 0;
  uint64_t head_ = 0;        // start of the next unread frame (ahead of the shared head until stored)
  uint64_t published_ = 0;   // last value stored to the shared head
  uint64_t tail_cache_ = 0;  // producer's tail as last seen; refreshed only when we run out
  uint64_t peeked_end_ = 0;
  bool has_peeked_ = false;
};

}  // namespace shmraft::ipc
