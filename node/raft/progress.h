#pragma once
// The leader's view of one follower's log (Figure 2's nextIndex/matchIndex, plus flow control in the
// manner of etcd's tracker/progress.go).
//
//  probe      : next is uncertain; at most one AppendEntries in flight, re-sent on each heartbeat.
//  replicate  : next is known; AppendEntries are pipelined (next advances optimistically on send) up to
//               max_inflight_msgs unacknowledged messages.
//  snapshot   : an InstallSnapshot is in flight; nothing else is sent until it is answered.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "node/raft/types.h"

namespace shmraft::raft {

enum class ProgressState : std::uint8_t { kProbe, kReplicate, kSnapshot };
const char* to_string(ProgressState state) noexcept;

// Fixed-capacity FIFO of the last index of each in-flight AppendEntries. Storage is allocated once.
class Inflights {
 public:
  explicit Inflights(std::size_t capacity = 0) : ring_(capacity) {}
  bool full() const noexcept { return count_ == ring_.size(); }
  std::size_t count() const noexcept { return count_; }
  std::size_t capacity() const noexcept { return ring_.size(); }
  void add(Index last_index) noexcept;
  // Frees every in-flight message whose last index is <= index (acknowledged).
  void free_to(Index index) noexcept;
  // Frees the oldest slot: a heartbeat answered while the window is full suggests appends were lost.
  void free_first_one() noexcept { free_to(count_ ? ring_[start_] : 0); }
  void reset() noexcept { start_ = count_ = 0; }

 private:
  std::vector<Index> ring_;
  std::size_t start_ = 0;
  std::size_t count_ = 0;
};

struct Progress {
  Index match = 0;  // highest index known replicated on the follower (for self: persisted locally)
  // The newest incarnation (Config::incarnation) of the follower heard from: the one `match` is vouched
  // for by (0: none yet). Kept across terms.
  std::uint64_t incarnation = 0;
  // What the follower's last response said of its lost state (HardState::lost; 0: not lost).
  std::uint64_t lost = 0;
  // This incarnation said it is not lost. A node is lost only from its start, so a later "lost" from the
  // same incarnation is a late message sent before its repair, and must not start another.
  bool said_not_lost = false;
  Index next = 1;  // next index to send
  ProgressState state = ProgressState::kProbe;
  bool probe_sent = false;     // probe state: an append is outstanding, wait for reply or heartbeat
  Index pending_snapshot = 0;  // snapshot state: index of the snapshot in flight
  int snapshot_elapsed = 0;    // snapshot state: ticks since it was sent (assumed lost after a timeout)
  // CheckQuorum (ProgressTracker::tick): the leader's tick count when it last heard from the follower,
  // and whether it heard from it since its last tick (stamped then at the end of the next one).
  std::uint64_t heard_tick = 0;
  bool heard_since_tick = false;
  std::uint64_t read_round_acked = 0;  // ReadIndex: the newest heartbeat round the follower acknowledged
  // Where the follower's log ended when it granted this node's candidacy its vote (VoteResponse; index 0:
  // unknown). Kept by reset() for become_leader, which replicates from there; cleared by a new candidacy.
  Index voted_last_index = 0;
  Term voted_last_term = 0;
  Inflights inflights;
};

}  // namespace shmraft::raft
