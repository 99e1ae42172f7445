#pragma once
// Death known at once (issue 13): the kernel, not a supervisor and not a timeout, tells a node that a
// peer's process is gone, and wakes it from its doorbell sleep to say so.
//
// Mechanism: robust futexes. For every node i the segment holds a row of death cells, one per watcher j
// (cell[j][i], the diagonal being i's own "is it alive" cell). While node i runs, a holder thread of its
// process keeps its thread id in each of its cells and lists them in its robust list (set_robust_list).
// When that process dies for any reason (SIGKILL, crash, exit), the kernel walks the list during the
// exit, sets FUTEX_OWNER_DIED in each cell and wakes one waiter on each: watcher j, who sleeps on its
// doorbell AND its cells at once (futex_waitv, see Doorbell::commit_wait). One wake-up per watcher,
// no watcher thread, no periodic check: an idle node costs no CPU. Each watcher has a cell of its own
// because the kernel wakes one waiter per cell.
//
// Why not the alternatives (measured with bench_liveness): a pidfd becomes readable only at the end of
// the exit (exit_notify, after memory and files are torn down), later than the robust-list walk early
// in it; a watcher thread that sleeps on the cells and rings the doorbell adds a second wake-up. The
// holder is a thread of its own because the kernel keeps one robust list per thread and glibc's list
// of the main thread (robust pthread mutexes) must stay registered.
//
// Node i:
//     LivenessClaim claim = segment.claim_liveness(i);  // at start; SegmentError if i runs already
//     DeathWatch deaths = segment.watch_deaths(i);
//     auto bound = deaths.bind_to_this_thread();         // the loop's thread: its sleeps end on a death
//     ready = [&] { return any_ring_has_frames() || deaths.pending(); };
//     after each wait: for each bit p of deaths.take(): core.peer_down(p)
// Anyone (status, clients, tests):  segment.peer_alive(i) -> {alive, incarnation, pid}
//
// Only liveness may rest on this signal: a peer reported dead may still finish the instruction it was
// running (its other threads exit a few microseconds apart), and a node restarted under the same id is
// a new incarnation. Safety stays with terms and votes.
#include <linux/futex.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include "ipc/doorbell.h"
#include "ipc/layout.h"

namespace shmraft::ipc {

// Node ids (1..N) as bits: bit `id` for node `id` (kMaxNodes < 32).
using NodeMask = uint32_t;
constexpr NodeMask node_bit(uint32_t id) noexcept {
  return NodeMask{1} << id;
}

// Per node, written by the process that claims the node.
struct alignas(kCacheLine) NodeLiveness {
  std::atomic<int32_t> owner_pid{0};     // the claiming process; 0 = unclaimed or released
  std::atomic<uint32_t> incarnation{0};  // +1 per claim; 0 = never claimed
  std::atomic<uint64_t> claimed_ns{0};   // CLOCK_MONOTONIC of the last claim
};

// A robust futex word and the robust-list link that points at it (futex_offset = -8). The link holds an
// address in the owner's mapping: only the owner writes it and only the owner's kernel exit follows it.
struct DeathCell {
  // Holder thread id while the owner lives (FUTEX_WAITERS once a watcher sleeps on it); FUTEX_OWNER_DIED
  // once it died; 0 = never claimed, or the death was taken by the watcher.
  std::atomic<uint32_t> word{0};
  uint32_t reserved = 0;
  robust_list link{};
};
static_assert(sizeof(DeathCell) == 16);
static_assert(std::atomic<uint32_t>::is_always_lock_free);

struct PeerLiveness {
  bool alive = false;        // the kernel has not reported its claim's death (and it was claimed)
  uint32_t incarnation = 0;  // of the latest claim (0 = never claimed)
  pid_t pid = 0;             // of the latest claim; 0 after an orderly release
};

// What the segment holds for liveness, as addresses in this process's mapping. Accessors take node
// ids 1..max_nodes (layout.h's slot_of turns them into array slots).
struct LivenessCells {
  NodeLiveness* node_slots = nullptr;  // [max_nodes]
  DeathCell* cell_slots = nullptr;     // [watcher slot * max_nodes + owner slot]
  uint32_t max_nodes = 0;
  Doorbell* doorbell_slots = nullptr;  // the nodes' bells, rung on claim so sleeping watchers re-arm

  NodeLiveness& node(uint32_t id) const noexcept { return node_slots[slot_of(id)]; }
  DeathCell& cell(uint32_t watcher, uint32_t owner) const noexcept {
    return cell_slots[std::size_t{slot_of(watcher)} * max_nodes + slot_of(owner)];
  }
  Doorbell& doorbell(uint32_t id) const noexcept { return doorbell_slots[slot_of(id)]; }
  PeerLiveness read(uint32_t node) const noexcept;
};

// A node's claim on its liveness cells, held by a thread of this process until destroyed (or until the
// process dies). Destroying it is a death for the peers, as it should be: the node is leaving.
class LivenessClaim {
 public:
  // Throws SegmentError (from Segment::claim_liveness) when a live process holds the node.
  LivenessClaim(const LivenessCells& cells, uint32_t node);
  ~LivenessClaim();
  LivenessClaim(LivenessClaim&&) noexcept;
  LivenessClaim& operator=(LivenessClaim&&) noexcept;
  LivenessClaim(const LivenessClaim&) = delete;
  LivenessClaim& operator=(const LivenessClaim&) = delete;

  uint32_t node() const noexcept;
  uint32_t incarnation() const noexcept;

  // Gives the holder thread the calling thread's scheduling policy and priority; a node calls it from
  // its loop once the loop has its own (--realtime). At the process's death the holder marks the peers'
  // cells one by one and wakes each watcher as it goes, yielding between cells (exit_robust_list's
  // cond_resched). Below the watchers' policy it lost its CPU to the first it woke and marked the next
  // only once no real-time thread was left runnable; and its exit began only when the normal processes
  // let it. Returns 0, or the errno of sched_setscheduler.
  int schedule_holder_like_this_thread() noexcept;

 private:
  struct Holder;
  std::unique_ptr<Holder> holder_;
};

// Process-local: node `me`'s view of its peers' deaths, from its construction on (deaths the cells
// still show from before are dropped). Cheap to poll, allocation-free; used by one thread.
class DeathWatch {
 public:
  DeathWatch(const LivenessCells& cells, uint32_t me, std::atomic<uint64_t>* deaths_seen) noexcept;

  uint32_t me() const noexcept { return me_; }

  // A death (or a restart that hides one) not yet taken. A few loads; for the loop's ready() check.
  bool pending() const noexcept;
  // The peers that died since the last take(), once each; counts them in `deaths_seen`. A peer that died
  // twice between two takes is reported once.
  NodeMask take() noexcept;

  // While bound, every Doorbell::commit_wait of the calling thread also ends when a watched peer dies.
  // One binding per thread; the watch must outlive it.
  class Binding {
   public:
    explicit Binding(const DeathWatch* watch) noexcept;
    ~Binding();
    Binding(const Binding&) = delete;
    Binding& operator=(const Binding&) = delete;

   private:
    const DeathWatch* previous_;
  };
  [[nodiscard]] Binding bind_to_this_thread() const noexcept { return Binding(this); }
  // The watch bound to the calling thread, or nullptr.
  static const DeathWatch* bound_to_this_thread() noexcept;

  // Fills `out` with the cells of live peers to sleep on (setting FUTEX_WAITERS so the kernel wakes
  // us) and returns how many; returns -1 instead when a death is already pending. For commit_wait.
  int arm(futex_waitv* out, int capacity) const noexcept;

  // Sleeps on the cells alone (no doorbell) until a death is pending or `deadline`. True if one is;
  // false at once when no peer is alive to watch. For a process that only watches (a supervisor, the
  // benchmark's watcher-thread variant).
  bool wait_for_death(std::chrono::steady_clock::time_point deadline) const noexcept;

 private:
  LivenessCells cells_;
  uint32_t me_;
  std::atomic<uint64_t>* deaths_seen_;
  // By peer id: the incarnation last seen alive (0 = none), to notice a death hidden by a quick
  // restart. Mutable: arm() records a peer it finds alive, as take() does.
  mutable uint32_t known_alive_[kMaxNodes + 1] = {};
};

// futex_waitv(2) on CLOCK_MONOTONIC; `deadline` max = none. Returns the syscall's result (errno set).
long futex_wait_any(futex_waitv* waiters, int count, std::chrono::steady_clock::time_point deadline) noexcept;

}  // namespace shmraft::ipc
