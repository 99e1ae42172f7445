#pragma once
// The rings' waiting policy (ipc/wait.h) applied to a TCP poll loop, shared by the node's TcpTransport
// and the client's TcpChannel: spin on non-blocking polls first (all strategies but `block`; only for
// the spin time under `adaptive`), then block in epoll until something arrives or the deadline.
#include <algorithm>
#include <chrono>
#include <cstddef>

#include "ipc/wait.h"

namespace shmraft::node {

// `poll(timeout)` polls once for up to `timeout` and returns the frames it delivered.
template <class Poll>
std::size_t poll_until(Poll&& poll, std::chrono::steady_clock::time_point deadline, ipc::WaitStrategy wait,
                       std::chrono::nanoseconds spin) {
  using Clock = std::chrono::steady_clock;
  std::size_t frames = poll(std::chrono::nanoseconds(0));
  if (frames > 0 || deadline <= Clock::now()) return frames;
  if (wait != ipc::WaitStrategy::block) {
    const Clock::time_point spin_end =
        wait == ipc::WaitStrategy::adaptive ? std::min(deadline, Clock::now() + spin) : deadline;
    while (frames == 0 && Clock::now() < spin_end) frames = poll(std::chrono::nanoseconds(0));
    if (frames > 0) return frames;
  }
  for (Clock::time_point now = Clock::now(); frames == 0 && now < deadline; now = Clock::now())
    frames = poll(deadline - now);
  return frames;
}

}  // namespace shmraft::node
