#pragma once
// A growable circular FIFO whose slots are reused: push_back() hands out a slot that may still hold an
// old element's resources (e.g. a std::string's capacity), so a steady-state queue allocates nothing
// once it has grown to its high-water mark. For the node's pending-request queues.
#include <cstddef>
#include <utility>
#include <vector>

namespace shmraft::node {

template <class T>
class Fifo {
 public:
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  // The new last element: a reused slot, to be overwritten by the caller.
  T& push_back() {
    if (size_ == slots_.size()) grow();
    T& slot = slots_[(head_ + size_) & (slots_.size() - 1)];
    ++size_;
    return slot;
  }
  void pop_front() noexcept {
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
  }
  void pop_back() noexcept { --size_; }
  void clear() noexcept { head_ = size_ = 0; }

  T& front() noexcept { return (*this)[0]; }
  T& back() noexcept { return (*this)[size_ - 1]; }
  T& operator[](std::size_t i) noexcept { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  const T& front() const noexcept { return slots_[head_]; }

 private:
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 64 : 2 * slots_.size());
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;  // capacity is a power of two
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace shmraft::node
