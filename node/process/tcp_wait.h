#pragma once
// The rings' waiting policy (ipc/wait.h) applied to a TCP poll loop, shared by the node's TcpTransport
// and the client's TcpChannel: spin on non-blocking polls first (all strategies but `block`; only for
// the spin time under `adaptive`), then block in epoll until something arrives, `woken()` says an event
// besides a frame wants the caller (its sink's has_wake_event: a peer's death, a new leader), or the
// deadline. `woken()` is asked after every poll: the epoll wake-up that brings such an event is a
// connection closing (the dead peer's) or a frame the caller does not count (a node's announcement).
#include <algorithm>
#include <chrono>
#include <cstddef>

#include "ipc/wait.h"

namespace shmraft::node {

// `poll(timeout)` polls once for up to `timeout` and returns the frames it delivered; `woken()` is a few
// loads.
template <class Poll, class Woken>
std::size_t poll_until(Poll&& poll, Woken&& woken, std::chrono::steady_clock::time_point deadline,
                       ipc::WaitStrategy wait, std::chrono::nanoseconds spin) {
  using Clock = std::chrono::steady_clock;
  std::size_t frames = poll(std::chrono::nanoseconds(0));
  if (frames > 0 || woken() || deadline <= Clock::now()) return frames;
  if (wait != ipc::WaitStrategy::block) {
    const Clock::time_point spin_end =
        wait == ipc::WaitStrategy::adaptive ? std::min(deadline, Clock::now() + spin) : deadline;
    while (frames == 0 && !woken() && Clock::now() < spin_end) frames = poll(std::chrono::nanoseconds(0));
    if (frames > 0 || woken()) return frames;
  }
  for (Clock::time_point now = Clock::now(); frames == 0 && !woken() && now < deadline; now = Clock::now())
    frames = poll(deadline - now);
  return frames;
}

}  // namespace shmraft::node
