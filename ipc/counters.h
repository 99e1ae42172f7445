#pragma once
// Live counters of one node in the segment (DESIGN §2), read by `shmraft status` and the launcher.
//
// Written ONLY by the node they belong to, so updates are relaxed load+store (no locked RMW) through
// set() and add(); readers take snapshot(), which may mix values from slightly different moments.
// ipc gives `role` no meaning: the node defines the codes and `shmraft status` prints them.
//
// The node process should, at start:   counters.set(counters.pid, getpid());
// and on every loop iteration or tick:  counters.set(counters.updated_ns, <CLOCK_MONOTONIC ns>);
// `pid` is also what makes the segment count as live rather than stale (Segment::inspect).
#include <atomic>
#include <cstdint>

#include "ipc/doorbell.h"

namespace shmraft::ipc {

struct NodeCountersSnapshot {
  uint64_t pid, role, term, leader, commit_index, applied_index, last_index;
  uint64_t frames_in, frames_out, drops, bad_frames, elections, syncs, updated_ns;
  uint64_t tcp_port, oversized, sleeps, deaths_seen, death_elections;
  uint64_t incarnation, progress_resets, hard_state_slots_skipped;
  uint64_t death_taken_ns, campaign_ns, leader_since_ns;
  uint64_t stall_elections, stalls_seen, stall_taken_ns;
  uint64_t lost, repairs, voters, learners;
  uint64_t votes_granted;
};

struct alignas(kCacheLine) NodeCounters {
  using Counter = std::atomic<uint64_t>;

  Counter pid{0};   // the node process, 0 when it never ran
  Counter role{0};  // node-defined code
  Counter term{0};
  Counter leader{0};  // the leader's node id (1..N), 0 = none known
  Counter commit_index{0};
  Counter applied_index{0};
  Counter last_index{0};
  Counter frames_in{0};
  Counter frames_out{0};
  Counter drops{0};       // frames not sent: full ring or fault switch
  Counter bad_frames{0};  // resynchronisations seen on this node's incoming rings
  Counter elections{0};
  Counter syncs{0};       // msync/fsync calls
  Counter updated_ns{0};  // CLOCK_MONOTONIC ns of the node's last update (a heartbeat)
  Counter tcp_port{0};   // the node's loopback TCP port under `--transport tcp`, where peers find it; 0 = shm
  Counter oversized{0};  // peer messages larger than a peer frame, never sent (also in `drops`)
  Counter sleeps{0};     // waits that went to sleep (futex, or epoll under TCP)
  Counter deaths_seen{0};               // peer deaths this node learned of from the kernel (DeathWatch::take)
  Counter death_elections{0};           // elections started because a death was reported, not by a timeout
  Counter incarnation{0};               // node-defined: grows with every start of the node process
  Counter progress_resets{0};           // node-defined: followers found restarted, whose progress was reset
  Counter hard_state_slots_skipped{0};  // damaged hard-state slots the node's last start recovered past
  // CLOCK_MONOTONIC stamps of the node's reactions to a failure, for `shmraft bench --failover`: when
  // it last took a peer's death from the kernel, last began a (pre-)election, last became leader.
  Counter death_taken_ns{0};
  Counter campaign_ns{0};
  Counter leader_since_ns{0};
  // Frozen or starved leaders (progress.h): elections started because the leader's progress counter
  // stood still, and the suspicions behind them (each a pre-election; most should win none).
  Counter stall_elections{0};
  Counter stalls_seen{0};
  Counter stall_taken_ns{0};  // CLOCK_MONOTONIC ns of the last suspicion, beside death_taken_ns
  // node-defined: whether the node lost its durable state and awaits repair, the repairs it completed
  // as leader, and the configuration it holds (its voters and learners, as node-id bit sets).
  Counter lost{0};
  Counter repairs{0};
  Counter voters{0};
  Counter learners{0};
  // node-defined: real votes the node granted, over all its starts in this segment (issue 14: a node
  // that lost its state must not vote; chaos watches this beside `lost`).
  Counter votes_granted{0};

  static void set(Counter& counter, uint64_t value) noexcept {
    counter.store(value, std::memory_order_relaxed);
  }
  static void add(Counter& counter, uint64_t delta = 1) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }

  NodeCountersSnapshot snapshot() const noexcept {
    auto get = [](const Counter& c) { return c.load(std::memory_order_relaxed); };
    NodeCountersSnapshot s{get(pid),
                           get(role),
                           get(term),
                           get(leader),
                           get(commit_index),
                           get(applied_index),
                           get(last_index),
                           get(frames_in),
                           get(frames_out),
                           get(drops),
                           get(bad_frames),
                           get(elections),
                           get(syncs),
                           get(updated_ns),
                           get(tcp_port),
                           get(oversized),
                           get(sleeps),
                           get(deaths_seen),
                           get(death_elections),
                           get(incarnation),
                           get(progress_resets),
                           get(hard_state_slots_skipped),
                           get(death_taken_ns),
                           get(campaign_ns),
                           get(leader_since_ns),
                           get(stall_elections),
                           get(stalls_seen),
                           get(stall_taken_ns),
                           get(lost),
                           get(repairs),
                           get(voters),
                           get(learners),
                           get(votes_granted)};
    return s;
  }
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);
// Counters added within the cache lines already taken keep the segment's layout (ipc/layout.h): an
// older node leaves the newer counters 0. One more line needs a new layout version (7 took the fifth).
static_assert(sizeof(NodeCounters) == 5 * kCacheLine);

}  // namespace shmraft::ipc
