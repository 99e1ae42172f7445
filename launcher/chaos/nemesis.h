#pragma once
// The fault schedule of `shmraft chaos`: SIGKILLs and restarts of nodes, network partitions, lossy links,
// whole-cluster crashes and damage to a stopped node's files, drawn from one seeded generator so a run's
// schedule can be replayed (the interleaving with the clients cannot: it depends on timing).
//
// Its victims are the members: the nodes the cluster is made of now, initially 1..N; with `--membership`
// (membership_nemesis.h) nodes join and leave, and every node slot in use can be killed and cut off.
// Runs on the thread that owns the Supervisor (the one that forks the nodes). step() is called in a
// loop; it acts when an event is due and returns the time of the next one.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ipc/segment.h"
#include "launcher/chaos/repair_watch.h"
#include "launcher/chaos/storage_faults.h"
#include "launcher/cluster_dirs.h"
#include "launcher/supervisor.h"
#include "node/raft/conf_state.h"

namespace shmraft::launcher {

struct NemesisOptions {
  std::chrono::milliseconds kill_interval{0};       // 0: no kills
  std::chrono::milliseconds partition_interval{0};  // 0: no partitions
  std::chrono::milliseconds crash_all_interval{0};  // 0: never the whole cluster at once
  double leader_bias = 0.5;                         // chance a kill or an isolation targets the leader
  double drop_rate = 0.0;                           // on every link for the whole run ("unreliable")
  std::chrono::microseconds max_delay{0};           // with drop_rate: each link's delay in [0, max]
  // Damage drawn from these kinds (none: no storage faults) to a killed node's files before its restart,
  // with this chance per restart, on at most a minority of the nodes at a time (a node counts as damaged
  // until it is repaired).
  std::vector<StorageFaultKind> storage_faults;
  double storage_fault_chance = 0.3;
  // A node restarted on damage that must start lost is a voter again, no longer lost, within this long.
  std::chrono::milliseconds repair_bound{10'000};
};

// How many nodes may await repair at once among `voters`: a minority, so a majority of intact voters
// keeps every committed entry and can elect — none among one or two voters, where a lost voter leaves
// no majority to repair it (a membership run damaged the leader of voters {3, 5}: never repaired).
inline uint32_t max_unrepaired(uint32_t voters) {
  return voters > 0 ? (voters - 1) / 2 : 0;
}

struct NemesisStats {
  uint32_t kills = 0;
  uint32_t restarts = 0;
  uint32_t partitions = 0;
  uint32_t heals = 0;
  uint32_t crash_alls = 0;
  uint32_t storage_faults = 0;  // injected
  // Nodes that died without being killed (a crash, an assertion, a sanitizer report): always a bug.
  std::vector<std::string> unexpected_exits;
};

class Nemesis {
 public:
  using Clock = std::chrono::steady_clock;

  Nemesis(const NemesisOptions& options, uint64_t seed, ipc::Segment& segment, Supervisor& supervisor,
          const ClusterDirs& dirs, std::ostream& log);

  // Applies the standing link faults (drop rate) and schedules the first events.
  void begin();
  // Performs every event due by now; returns when the next one is due.
  Clock::time_point step();
  // Heals every link and starts every node that is down: the cluster is whole again.
  void end();
  // Reads the counters of the nodes awaiting repair and logs what changed (also after end()).
  void poll_repairs();
  // The run is over: a node still awaiting repair failed.
  void finish_repairs() { repairs_.finish(); }

  // The nodes kept running (killed ones come back), initially 1..N.
  raft::NodeSet members() const noexcept { return members_; }
  bool running(uint32_t node) const { return supervisor_.running(node); }
  // Node `node` becomes a member: its directory is created and stamped if it has none (a removed node's
  // is kept, so it rejoins with the state it left with), and it is started unless it runs.
  void join(uint32_t node);
  // Node `node` is a member no more: stopped (SIGTERM) and no longer restarted; its directory stays, and
  // a repair of it in progress is not judged.
  void leave(uint32_t node);
  // How many voters the damage bound counts: those of the live leader's configuration (else of the last
  // one seen, initially 1..N) without the nodes whose removal was sent — a removal in flight may be in
  // force at once (a change takes effect when appended), and a lost voter more would then leave no
  // intact majority to elect a leader.
  uint32_t voter_count();
  // Node `node` lost its state and awaits its repair (the leader takes it out and back in by itself).
  bool repairing(uint32_t node) const;
  // A removal of node `node` was proposed: from now on, until a configuration holds it again, a
  // configuration without it means it was removed (the answer may have been lost with the change
  // committed), even while it awaits repair.
  void removal_sent(uint32_t node) { removals_sent_.insert(node); }
  // Makes the members those of `configuration` (joins and leaves), logging each change with `why`. A
  // repairing node outside it stays — the leader takes a lost voter out and puts it back as a learner —
  // unless its removal was sent. Called between membership changes, with a leader's configuration.
  void follow(raft::NodeSet configuration, const std::string& why);
  // The same with the configuration of the live leader of the highest term, if any.
  void follow_leader();
  std::optional<uint32_t> leader();
  // A line of the run's log, with the time since begin().
  void note(const std::string& what);

  const NemesisStats& stats() const noexcept { return stats_; }
  // The nodes restarted on damage, until they are repaired.
  const RepairWatch& repairs() const noexcept { return repairs_; }

 private:
  std::chrono::milliseconds jitter(std::chrono::milliseconds mean);
  void kill_one();
  void crash_all();
  void change_partition();
  void apply_links(const std::set<uint32_t>& group);
  void restart_due();
  // Damages a node's files with this chance (within the minority bound) before a restart; returns the
  // kind injected.
  std::optional<StorageFaultKind> maybe_damage(uint32_t node);
  // Starts a node that is down, after `damage` was done to its files, and follows its repair.
  pid_t start_node(uint32_t node, std::optional<StorageFaultKind> damage);
  std::size_t lost_lines(uint32_t node) const;
  std::vector<uint32_t> running_members() const;
  void note_unexpected_exit(uint32_t node, const ExitStatus& status);

  NemesisOptions options_;
  std::mt19937_64 rng_;
  ipc::Segment& segment_;
  Supervisor& supervisor_;
  const ClusterDirs& dirs_;
  std::ostream& log_;
  Clock::time_point began_;
  Clock::time_point next_kill_ = Clock::time_point::max();
  Clock::time_point next_partition_ = Clock::time_point::max();
  Clock::time_point next_crash_all_ = Clock::time_point::max();
  std::map<uint32_t, Clock::time_point> restarts_;  // node -> when it comes back
  bool partitioned_ = false;
  raft::NodeSet members_;
  raft::NodeSet removals_sent_;  // see removal_sent()
  raft::NodeSet last_voters_;    // of the last live leader seen
  RepairWatch repairs_;
  NemesisStats stats_;
};

}  // namespace shmraft::launcher
