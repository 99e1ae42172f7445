#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "node/raft/message.h"
#include "tests/sim/sim_profile.h"
#include "tests/sim/sim_random.h"

namespace shmraft::sim {

// A message on the wire: encoded with the real codec (so the simulator also exercises it, and so the
// message outlives the sender's Ready), due at a step of virtual time.
struct Packet {
  uint64_t due_step = 0;
  uint64_t order = 0;  // random tie-break: packets due at one step arrive in random order
  raft::NodeId from = raft::kNoNode;
  raft::NodeId to = raft::kNoNode;
  std::vector<std::byte> bytes;
};

struct NetworkStats {
  uint64_t sent = 0;
  uint64_t dropped = 0;
  uint64_t duplicated = 0;
  uint64_t cut = 0;  // lost to a partition
  uint64_t delivered = 0;
};

// The virtual network between nodes 1..n: per-direction links that can be cut, and random loss,
// duplication and delay (hence reordering) per packet.
class VirtualNetwork {
 public:
  VirtualNetwork(uint32_t nodes, const SimProfile& profile);

  // Queues `message` (or drops / duplicates it) at step `now`.
  void send(const raft::Message& message, uint64_t now, SimRandom& rng);

  // Moves every packet due at or before `now` on a link that is still up into `out`, in delivery order.
  void take_due(uint64_t now, std::vector<Packet>& out);

  bool link_up(raft::NodeId from, raft::NodeId to) const { return up_[from * stride_ + to]; }
  void set_link(raft::NodeId from, raft::NodeId to, bool up) { up_[from * stride_ + to] = up; }
  void heal() { std::fill(up_.begin(), up_.end(), true); }
  // No more loss, duplication or long delays (the healed phase); reordering by short delays remains.
  void make_reliable() { reliable_ = true; }

  const NetworkStats& stats() const { return stats_; }

 private:
  struct Later {
    bool operator()(const Packet& a, const Packet& b) const {
      return a.due_step != b.due_step ? a.due_step > b.due_step : a.order > b.order;
    }
  };
  void enqueue(raft::NodeId from, raft::NodeId to, const std::vector<std::byte>& bytes, uint64_t now,
               SimRandom& rng);

  const SimProfile& profile_;
  uint32_t stride_;
  std::vector<bool> up_;
  bool reliable_ = false;
  std::vector<Packet> queue_;  // a min-heap on (due_step, order)
  NetworkStats stats_;
};

}  // namespace shmraft::sim
