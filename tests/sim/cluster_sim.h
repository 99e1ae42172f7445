#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/raft/types.h"
#include "tests/sim/safety_checker.h"
#include "tests/sim/sim_profile.h"
#include "tests/sim/sim_random.h"
#include "tests/sim/virtual_network.h"

namespace shmraft::sim {

struct SimNode;

// What one run did, for reports and for tuning the fault mix (a schedule that never elects twice or
// never acknowledges a write proves little).
struct SimStats {
  uint64_t ticks = 0;
  uint64_t leader_terms = 0;  // distinct terms that had a leader
  uint64_t proposals = 0;
  uint64_t acknowledged = 0;
  uint64_t reads_started = 0;
  uint64_t reads_answered = 0;
  uint64_t transfers = 0;
  uint64_t conf_changes = 0;  // membership changes a leader accepted
  uint64_t crashes = 0;
  uint64_t death_signals = 0;  // peer_down calls, true, late or false
  uint64_t torn_persists = 0;
  uint64_t progress_resets = 0;  // leaders that saw a follower's new incarnation and probed it afresh
  uint64_t storage_faults = 0;   // restarts with a storage fault (profile.storage_fault), of any kind
  uint64_t torn_tails = 0;       // ... of which lost only an unacknowledged tail and started healthy
  uint64_t repairs = 0;          // lost nodes a leader repaired (voters promoted back, learners re-added)
  uint64_t partitions = 0;
  uint64_t compactions = 0;
  uint64_t snapshots_installed = 0;
  uint64_t commit_index = 0;  // highest committed index at the end
  uint64_t ticks_to_leader_after_heal = 0;
  uint64_t ticks_to_converge_after_heal = 0;
  NetworkStats network;
};

struct SimResult {
  std::string profile;
  uint64_t seed = 0;
  std::optional<Violation> violation;
  SimStats stats;
  bool ok() const { return !violation; }
};

// N Raft cores in one process under virtual time, driven exactly as a node process drives its core
// (the same ReadyHandler: send, persist, send-after-persist, apply, advance, node-local invariants), over a
// virtual network and a storage that keeps across a crash only what was persisted. Invariants are checked
// after every step. Everything is a function of (profile, seed): a run replays exactly.
class ClusterSim {
 public:
  // `transcript`, if given, receives one line per event (faults, elections, client operations); with
  // `trace_messages` also one per delivered message.
  ClusterSim(const SimProfile& profile, uint64_t seed, std::ostream* transcript = nullptr,
             bool trace_messages = false);
  ~ClusterSim();
  ClusterSim(const ClusterSim&) = delete;
  ClusterSim& operator=(const ClusterSim&) = delete;

  SimResult run();

 private:
  struct Acknowledged {
    uint64_t index;
    uint64_t term;
    std::string token;
  };

  // Phases and events.
  void run_chaos_tick();
  bool run_healed_tick(uint64_t ticks_since_heal);  // true once converged
  void inject_fault();
  void drive_clients();
  void partition();
  void isolate_leader();
  void crash(SimNode& node);
  void restart(SimNode& node);
  // Storage faults (profile.storage_fault): whether a node started lost and is not yet repaired, whether
  // `node` may be damaged now (the fault model is a minority: one node at a time, a minority of the
  // voters), and the fault itself, which returns whether the node lost something it may have promised
  // (so a storage that detects it starts it lost).
  bool under_repair(SimNode& node);
  bool any_under_repair();
  bool storage_fault_allowed(const SimNode& node);
  bool damage_storage(SimNode& node);
  void keep_log_through(SimNode& node, raft::Index last);
  void signal_death(raft::NodeId dead, raft::NodeId to, uint64_t delay_steps);
  void compact(SimNode& node);
  void propose(SimNode& node, std::string token);
  void change_membership(SimNode& node);
  std::optional<raft::NodeId> agreed_leader() const;

  // Driving one node.
  class NodeHost;  // the simulator's side of each Ready (raft::ReadyHost)
  void pump(SimNode& node);
  void begin_ready(SimNode& node);
  void finish_ready(SimNode& node);
  void on_role(SimNode& node, const raft::SoftState& soft);
  void restore_snapshot(SimNode& node, const raft::Snapshot& snapshot);
  void apply_entry(SimNode& node, const raft::Entry& entry);
  void check_read_answer(SimNode& node, const raft::ReadState& read);
  void serve_reads(SimNode& node);
  void observe(SimNode& node);
  raft::Config core_config(raft::NodeId id);

  std::vector<SimNode*> live_nodes();
  // Nodes that believe they lead; only those free to take a client request if `idle_only`.
  std::vector<SimNode*> leaders(bool idle_only = true);
  void check_acknowledged_writes();
  std::string cluster_state() const;

  template <class... Parts>
  void trace(const Parts&... parts);

  const SimProfile& profile_;
  uint64_t seed_;
  std::ostream* transcript_;
  bool trace_messages_;
  SimRandom rng_;
  SafetyChecker checker_;
  VirtualNetwork network_;
  std::vector<std::unique_ptr<SimNode>> nodes_;  // [0] unused: ids are 1..n
  uint64_t now_ = 0;                             // in steps
  uint64_t next_token_ = 1;
  uint64_t next_read_context_ = 1;
  uint64_t incarnations_ = 0;  // cores started so far: each one's Config::incarnation
  uint64_t max_acknowledged_index_ = 0;
  std::vector<Acknowledged> acknowledged_;
  std::vector<Packet> due_;
  struct DeathSignal {
    uint64_t step;
    raft::NodeId dead, to;
  };
  std::vector<DeathSignal> death_signals_;  // not yet delivered
  std::optional<std::string> final_token_;
  std::optional<Acknowledged> final_ack_;
  std::optional<uint64_t> leader_after_heal_;  // ticks from the heal to a leader known to a majority
  SimStats stats_;
};

}  // namespace shmraft::sim
