#pragma once
// Which client slots have published requests a node has not looked at yet: one bit per slot, a word
// array per node in the segment (layout.h). With thousands of client slots a node cannot afford to read
// every request ring's tail on each wake-up (each is a cache line of its own; 4 096 of them cost more
// than the exchange they serve); it reads slots/64 words instead and drains only the flagged rings.
//
// Client, after publishing a request ring to node n:   signals.raise(slot);  then ring node n's bell
// Node:   signals.any() in its wait check;   signals.take([&](uint32_t slot) { drain slot's ring; });
//
// No request is missed: the client raises the bit after its tail store (release RMW), the node clears
// a word (acquire exchange) before draining the rings it names. A publish the node's drain missed
// came after that exchange, so its raise sets the bit again for the next round.
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace shmraft::ipc {

inline constexpr uint32_t kSignalBits = 64;

// Words for `slots` client slots.
constexpr std::size_t request_signal_words(uint32_t slots) noexcept {
  return (std::size_t{slots} + kSignalBits - 1) / kSignalBits;
}

// A view of one node's words in the segment (zero = nothing signalled).
class RequestSignals {
 public:
  RequestSignals() = default;
  RequestSignals(std::atomic<uint64_t>* words, uint32_t slots) noexcept
      : words_(words), count_(request_signal_words(slots)) {}

  // release: the ring's tail published before this is visible to whoever takes the bit.
  void raise(uint32_t slot) noexcept {
    words_[slot / kSignalBits].fetch_or(uint64_t{1} << (slot % kSignalBits), std::memory_order_release);
  }

  // A few loads: whether any slot is signalled (side-effect free, for wait checks).
  bool any() const noexcept {
    for (std::size_t w = 0; w < count_; ++w)
      if (words_[w].load(std::memory_order_relaxed) != 0) return true;
    return false;
  }

  // Clears every raised bit and calls visit(slot) for each, in slot order. Returns how many.
  template <class Visit>
  std::size_t take(Visit&& visit) {
    std::size_t taken = 0;
    for (std::size_t w = 0; w < count_; ++w) {
      if (words_[w].load(std::memory_order_relaxed) == 0) continue;
      // acquire: pairs with raise(), so the rings' tails are visible to the drain.
      uint64_t bits = words_[w].exchange(0, std::memory_order_acquire);
      for (; bits != 0; bits &= bits - 1, ++taken)
        visit(static_cast<uint32_t>(w * kSignalBits + static_cast<uint32_t>(std::countr_zero(bits))));
    }
    return taken;
  }

 private:
  std::atomic<uint64_t>* words_ = nullptr;
  std::size_t count_ = 0;
};

static_assert(std::atomic<uint64_t>::is_always_lock_free);

}  // namespace shmraft::ipc
