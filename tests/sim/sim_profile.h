#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "node/raft/config.h"

namespace shmraft::sim {

// What a storage fault takes from a stopped node, and whether its next start finds out (as the real
// storage does: node/storage/state_detection.h).
enum class StorageFault : uint8_t {
  kWipe,       // everything: term, vote, log, snapshot (a wiped directory) — detected: starts lost
  kHardState,  // term, vote and commit index, the log intact (a lost or damaged hard state) — detected
  kLogSuffix,  // the log after a point below what the node acknowledged (or its commit index, if higher),
               // which may be at or below the commit index — detected through the acknowledged-through
               // watermark
  kTornTail,   // only log entries above both: never acknowledged, so nothing promised is gone — the
               // node starts healthy
};
const char* to_string(StorageFault fault);

// Everything that shapes one simulated run except the seed. Probabilities are per mille: of messages for
// the network, per tick for scheduled events. A run has two phases: `chaos_ticks` of faults and load, then
// a healed phase (reliable network, every node up) in which liveness is required within the bounds.
struct SimProfile {
  std::string name;
  uint32_t nodes = 3;  // the bootstrap voters, 1..nodes
  // Nodes nodes+1..nodes+spare_nodes run from the start outside the configuration, to be added by
  // membership changes (a node added, removed and added again keeps its id and its storage).
  uint32_t spare_nodes = 0;
  uint32_t total_nodes() const { return nodes + spare_nodes; }
  uint32_t chaos_ticks = 300;

  // Raft configuration (see node/raft/config.h). Small message and batch limits make the core split
  // batches, pipeline and backtrack even with short logs.
  int election_tick = 10;
  int heartbeat_tick = 2;
  bool pre_vote = true;
  bool check_quorum = true;
  bool broadcast_commit = true;
  size_t max_msg_bytes = 64;
  size_t max_inflight_msgs = 4;
  size_t max_committed_bytes = 128;
  raft::TestingFaults testing_faults;

  // Virtual time: a tick is split into steps; each node ticks at its own phase within the tick, messages
  // take whole steps, so many exchanges fit into one election timeout.
  uint32_t steps_per_tick = 8;

  // Network, per message.
  uint32_t drop = 40;
  uint32_t duplicate = 30;
  uint32_t max_delay_steps = 12;  // uniform in [1, max]; reorders messages on one link
  uint32_t long_delay = 10;       // ... or held back for up to long_delay_ticks: a very stale message
  uint32_t long_delay_ticks = 25;

  // Faults, per tick.
  uint32_t partition = 12;      // split the cluster into two random sides, or cut one link one way
  uint32_t isolate_leader = 0;  // cut a node that believes it leads, plus up to a minority of others,
                                // off from the rest: its newest entries reach only a minority
  uint32_t heal = 40;           // restore every link
  uint32_t crash = 6;           // crash a random live node: it keeps only what it persisted
  uint32_t crash_leader = 0;    // crash a node that believes it leads
  // Per election: the new leader crashes within doom_window_steps, maybe before its first entry of the
  // new term is replicated or even persisted. Short-lived leaders are what Figure 8 is made of.
  uint32_t doom_new_leader = 0;
  uint32_t doom_window_steps = 24;
  uint32_t restart = 50;  // restart a random crashed node from its storage
  // Per restart: the node comes back with a storage fault, of a kind drawn among storage_fault_kinds,
  // started lost (Config::state_lost) if it lost something it may have promised. Only while no other
  // node is lost or being repaired: the fault model is a minority at a time.
  uint32_t storage_fault = 0;
  std::vector<StorageFault> storage_fault_kinds = {StorageFault::kWipe, StorageFault::kLogSuffix};
  // The bug a storage without detection has: a node that lost what it promised starts NOT lost.
  bool detect_lost_storage = true;
  uint32_t max_persist_delay_steps = 3;  // a Ready's persist takes [0, max] steps; a crash meanwhile...
  bool torn_persist = true;              // ... keeps a random prefix of snapshot, entries, hard state
  // The simulator's own deliberate bug, to prove the storage model catches broken durability: send
  // messages_after_persist (votes, acknowledgements) before the Ready is persisted.
  bool send_before_persist = false;
  // Another: answer reads at once from the leader's own commit index instead of through ReadIndex, which
  // a deposed leader that does not know it yet answers stale.
  bool local_reads = false;
  // Death signals (Core::peer_down, issue 13), which a node may get late, or wrongly: per crash, each
  // live node hears of it after [0, max_death_signal_delay_steps] steps (even after a restart, when it
  // is false); per tick, one live node is told a random peer died (false unless it did).
  uint32_t death_signal = 0;
  uint32_t max_death_signal_delay_steps = 40;
  uint32_t false_death_signal = 0;
  uint32_t compact = 15;  // a random node snapshots its state machine and drops a random part of its log

  // Client load, per tick.
  uint32_t propose = 400;  // propose 1-3 unique tokens at the leader
  uint32_t read = 120;     // start a ReadIndex read at the leader
  uint32_t transfer = 8;   // ask the leader to transfer leadership to a random node
  // Ask the leader to change the membership: add a random non-member (as learner mostly, as voter
  // sometimes), promote or remove a random learner, or remove a random voter — the leader itself too.
  uint32_t membership = 0;
  // ... some of the nodes added join as voters at once (else all as learners, as `shmraft member add`
  // adds them).
  bool add_voters = true;

  // Liveness after healing, in ticks from the heal.
  uint32_t leader_bound_ticks = 150;    // a leader known to a majority at its term
  uint32_t converge_bound_ticks = 150;  // ... then a fresh write committed and applied on every node
};

// The named profiles the tests use; `sim_replay --profile NAME` accepts the same names.
const std::vector<SimProfile>& sim_profiles();
// Throws std::invalid_argument listing the known names.
const SimProfile& sim_profile(std::string_view name);

}  // namespace shmraft::sim
