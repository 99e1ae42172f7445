#include "ipc/liveness.h"

#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

#include "ipc/clock.h"

namespace shmraft::ipc {

namespace {

constexpr uint32_t kHeld = 1;
constexpr uint32_t kReleasing = 2;
constexpr uint32_t kFailed = 3;

thread_local const DeathWatch* bound_watch = nullptr;

bool owner_died(uint32_t word) noexcept {
  return (word & FUTEX_OWNER_DIED) != 0;
}
bool held(uint32_t word) noexcept {
  return (word & FUTEX_TID_MASK) != 0 && !owner_died(word);
}

}  // namespace

long futex_wait_any(futex_waitv* waiters, int count,
                    std::chrono::steady_clock::time_point deadline) noexcept {
  timespec at{};
  const bool forever = deadline == std::chrono::steady_clock::time_point::max();
  if (!forever) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
    at.tv_sec = ns / 1'000'000'000;
    at.tv_nsec = ns % 1'000'000'000;
  }
  return syscall(SYS_futex_waitv, waiters, count, 0, forever ? nullptr : &at, CLOCK_MONOTONIC);
}

PeerLiveness LivenessCells::read(uint32_t id) const noexcept {
  PeerLiveness peer;
  // acquire: a claim bumps the incarnation before it stores the holder's id (see Holder::run).
  const uint32_t word = cell(id, id).word.load(std::memory_order_acquire);
  peer.incarnation = node(id).incarnation.load(std::memory_order_acquire);
  peer.pid = node(id).owner_pid.load(std::memory_order_relaxed);
  peer.alive = held(word);
  return peer;
}

// The thread whose robust list holds node `node`'s cells. It does nothing but exist: its exit, with
// its process or on release, is what the kernel reports.
struct LivenessClaim::Holder {
  LivenessCells cells;
  uint32_t node;
  uint32_t incarnation;
  robust_list_head head{};
  std::atomic<uint32_t> state{0};
  pid_t tid = 0;  // set before state leaves 0
  int error = 0;  // errno of a failed set_robust_list, read after state == kFailed
  std::thread thread;

  void run() noexcept {
    tid = static_cast<pid_t>(::syscall(SYS_gettid));
    const uint32_t n = cells.max_nodes;
    head.futex_offset =
        static_cast<long>(offsetof(DeathCell, word)) - static_cast<long>(offsetof(DeathCell, link));
    head.list_op_pending = nullptr;
    head.list.next = &cells.cell(1, node).link;
    for (uint32_t watcher = 1; watcher <= n; ++watcher)
      cells.cell(watcher, node).link.next = watcher < n ? &cells.cell(watcher + 1, node).link : &head.list;
    if (::syscall(SYS_set_robust_list, &head, sizeof head) != 0) {
      error = errno;
      state.store(kFailed, std::memory_order_release);
      state.notify_all();
      return;
    }
    // release: a watcher that reads our id also reads the incarnation bumped before this thread began.
    for (uint32_t watcher = 1; watcher <= n; ++watcher)
      cells.cell(watcher, node).word.store(static_cast<uint32_t>(tid), std::memory_order_release);
    // Watchers asleep do not sleep on a cell that held no live owner: wake them to re-arm on ours.
    for (uint32_t watcher = 1; watcher <= n; ++watcher)
      if (watcher != node) cells.doorbell(watcher).ring();
    state.store(kHeld, std::memory_order_release);
    state.notify_all();
    for (uint32_t s = kHeld; s != kReleasing; s = state.load(std::memory_order_acquire)) state.wait(s);
    // Returning ends the thread: the kernel marks our cells FUTEX_OWNER_DIED and wakes their watchers.
  }
};

LivenessClaim::LivenessClaim(const LivenessCells& cells, uint32_t node)
    : holder_(std::make_unique<Holder>()) {
  Holder& h = *holder_;
  h.cells = cells;
  h.node = node;
  h.incarnation = cells.node(node).incarnation.fetch_add(1, std::memory_order_acq_rel) + 1;
  cells.node(node).claimed_ns.store(monotonic_ns(), std::memory_order_relaxed);
  h.thread = std::thread([&h] { h.run(); });
  for (uint32_t s = 0; s == 0; s = h.state.load(std::memory_order_acquire)) h.state.wait(0);
  if (h.state.load(std::memory_order_acquire) == kFailed) {
    h.thread.join();
    throw std::runtime_error("set_robust_list failed: " + std::string(std::strerror(h.error)));
  }
}

LivenessClaim::~LivenessClaim() {
  if (!holder_) return;
  Holder& h = *holder_;
  h.state.store(kReleasing, std::memory_order_release);
  h.state.notify_all();
  h.thread.join();  // returns after the kernel has processed the holder's robust list
  int32_t me = ::getpid();
  h.cells.node(h.node).owner_pid.compare_exchange_strong(me, 0, std::memory_order_acq_rel);
}

LivenessClaim::LivenessClaim(LivenessClaim&&) noexcept = default;

LivenessClaim& LivenessClaim::operator=(LivenessClaim&& other) noexcept {
  if (this != &other) {
    LivenessClaim gone(std::move(*this));
    holder_ = std::move(other.holder_);
  }
  return *this;
}

uint32_t LivenessClaim::node() const noexcept {
  return holder_->node;
}
uint32_t LivenessClaim::incarnation() const noexcept {
  return holder_->incarnation;
}

int LivenessClaim::schedule_holder_like_this_thread() noexcept {
  // The policy as read carries SCHED_RESET_ON_FORK when set; the holder never forks, it does no harm.
  const int policy = ::sched_getscheduler(0);
  sched_param priority{};
  if (policy < 0 || ::sched_getparam(0, &priority) != 0) return errno;
  sched_param holders{};
  if (::sched_getscheduler(holder_->tid) == policy && ::sched_getparam(holder_->tid, &holders) == 0 &&
      holders.sched_priority == priority.sched_priority)
    return 0;  // already alike (a normal loop): nothing else of the holder's is touched
  return ::sched_setscheduler(holder_->tid, policy, &priority) == 0 ? 0 : errno;
}

DeathWatch::DeathWatch(const LivenessCells& cells, uint32_t me, std::atomic<uint64_t>* deaths_seen) noexcept
    : cells_(cells), me_(me), deaths_seen_(deaths_seen) {
  for (uint32_t peer = 1; peer <= cells_.max_nodes; ++peer) {
    if (peer == me_) continue;
    std::atomic<uint32_t>& word = cells_.cell(me_, peer).word;
    uint32_t value = word.load(std::memory_order_acquire);
    // A death from before this watch began (e.g. seen by our own previous incarnation) is not news.
    if (owner_died(value)) word.compare_exchange_strong(value, 0, std::memory_order_acq_rel);
    if (held(value)) known_alive_[peer] = cells_.node(peer).incarnation.load(std::memory_order_acquire);
  }
}

bool DeathWatch::pending() const noexcept {
  for (uint32_t peer = 1; peer <= cells_.max_nodes; ++peer) {
    if (peer == me_) continue;
    if (owner_died(cells_.cell(me_, peer).word.load(std::memory_order_acquire))) return true;
    if (known_alive_[peer] != 0 &&
        cells_.node(peer).incarnation.load(std::memory_order_acquire) != known_alive_[peer])
      return true;
  }
  return false;
}

NodeMask DeathWatch::take() noexcept {
  NodeMask dead = 0;
  for (uint32_t peer = 1; peer <= cells_.max_nodes; ++peer) {
    if (peer == me_) continue;
    std::atomic<uint32_t>& word = cells_.cell(me_, peer).word;
    // Cell before incarnation: a claim stores the incarnation first (see Holder::run).
    uint32_t value = word.load(std::memory_order_acquire);
    const uint32_t incarnation = cells_.node(peer).incarnation.load(std::memory_order_acquire);
    if (owner_died(value)) {
      // Taken: back to 0. If the peer has been claimed again meanwhile the exchange fails, which is
      // right: its new id stays.
      word.compare_exchange_strong(value, 0, std::memory_order_acq_rel);
      dead |= node_bit(peer);
      known_alive_[peer] = 0;
    } else if (held(value)) {
      if (known_alive_[peer] != 0 && known_alive_[peer] != incarnation) dead |= node_bit(peer);
      known_alive_[peer] = incarnation;
    }
  }
  if (dead != 0 && deaths_seen_ != nullptr)
    deaths_seen_->store(deaths_seen_->load(std::memory_order_relaxed) + std::popcount(dead),
                        std::memory_order_relaxed);  // written by this node only (NodeCounters)
  return dead;
}

int DeathWatch::arm(futex_waitv* out, int capacity) const noexcept {
  int count = 0;
  for (uint32_t peer = 1; peer <= cells_.max_nodes; ++peer) {
    if (peer == me_) continue;
    std::atomic<uint32_t>& word = cells_.cell(me_, peer).word;
    uint32_t value = word.load(std::memory_order_acquire);
    for (;;) {
      if (owner_died(value)) return -1;
      if (!held(value)) break;  // no live owner: nothing to sleep on
      const uint32_t incarnation = cells_.node(peer).incarnation.load(std::memory_order_acquire);
      if (known_alive_[peer] != 0 && known_alive_[peer] != incarnation) return -1;
      known_alive_[peer] = incarnation;
      // The kernel wakes a waiter at the owner's death only if FUTEX_WAITERS is set in the word.
      if ((value & FUTEX_WAITERS) != 0 ||
          word.compare_exchange_weak(value, value | FUTEX_WAITERS, std::memory_order_acq_rel)) {
        if (count == capacity) return count;
        out[count].val = value | FUTEX_WAITERS;
        out[count].uaddr = reinterpret_cast<uintptr_t>(&word);
        out[count].flags = FUTEX_32;  // shared: the kernel's wake at exit uses the shared key
        out[count].__reserved = 0;
        ++count;
        break;
      }
      // The word changed under us (death, or a new claim): look again.
    }
  }
  return count;
}

bool DeathWatch::wait_for_death(std::chrono::steady_clock::time_point deadline) const noexcept {
  futex_waitv waiters[32];
  for (;;) {
    if (pending()) return true;
    const int armed = arm(waiters, 32);
    if (armed < 0) return true;
    if (armed == 0) return false;  // no live peer to watch
    if (futex_wait_any(waiters, armed, deadline) == -1 && errno == ETIMEDOUT) return pending();
  }
}

DeathWatch::Binding::Binding(const DeathWatch* watch) noexcept : previous_(bound_watch) {
  bound_watch = watch;
}
DeathWatch::Binding::~Binding() {
  bound_watch = previous_;
}

const DeathWatch* DeathWatch::bound_to_this_thread() noexcept {
  return bound_watch;
}

}  // namespace shmraft::ipc
