#include "ipc/progress.h"

#include <algorithm>
#include <limits>

namespace shmraft::ipc {

namespace {
uint64_t saturating_add(uint64_t a, uint64_t b) noexcept {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max() : a + b;
}
}  // namespace

ProgressWatch::ProgressWatch(const ProgressCounter* counters, uint32_t node_count,
                             std::chrono::nanoseconds stall) noexcept
    : counters_(counters), node_count_(node_count), stall_ns_(static_cast<uint64_t>(stall.count())) {}

void ProgressWatch::observe(uint64_t now_ns) noexcept {
  for (uint32_t node = 1; node <= node_count_; ++node) {
    ProgressReading& r = readings_[node];
    const ProgressCounter& counter = counters_[slot_of(node)];
    // Single words from a single writer; a late value only delays a suspicion.
    const uint64_t count = counter.count.load(std::memory_order_acquire);  // before its stamp (bump)
    const uint64_t idle_until_ns = counter.idle_until_ns.load(std::memory_order_relaxed);
    const uint64_t work = counter.work.load(std::memory_order_relaxed);
    if (count != r.count || r.since_ns == 0) {
      // Due for a look, and asleep again after moves since the last one (an idle leader's heartbeat
      // and its answers): looked at now, not a stall time after those moves, or an idle node would
      // cost each watcher two wake-ups per sleep instead of one.
      const bool look_now =
          r.since_ns != 0 && !r.vouched && now_ns >= next_check_ns(node) && idle_until_ns > now_ns;
      const uint64_t moved_ns = counter.moved_ns.load(std::memory_order_relaxed);
      r.count = count;
      if (!look_now) r.since_ns = moved_ns != 0 ? std::min(moved_ns, now_ns) : now_ns;
    }
    // Work taken (a request came): the vouch is spent, and the node must be looked at again before its
    // sleeps count. Without new work a vouched node awake between its sleeps (a heartbeat and its
    // answers) is held to the last sleep it announced, which the heartbeat's iteration announced before
    // its frames woke us; a mid-iteration 0 must not time us from its move.
    if (work != r.work) r.vouched = false;
    r.work = work;
    if (idle_until_ns != 0 || !r.vouched) r.idle_until_ns = idle_until_ns;
  }
}

uint64_t ProgressWatch::next_check_ns(uint32_t node) const noexcept {
  const ProgressReading& r = readings_[node];
  return saturating_add(r.vouched ? std::max(r.since_ns, r.idle_until_ns) : r.since_ns, stall_ns_);
}

NodeMask ProgressWatch::stalled(uint64_t now_ns) const noexcept {
  NodeMask mask = 0;
  for (uint32_t node = 1; node <= node_count_; ++node)
    if (stalled(node, now_ns)) mask |= node_bit(node);
  return mask;
}

}  // namespace shmraft::ipc
