#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace shmraft::sim {

// The properties the simulator asserts. The first four are Raft's (paper §5.2-5.4, Figure 3); the rest are
// what a client is promised.
enum class Invariant {
  kElectionSafety,         // at most one leader per term, across all history
  kLogMatching,            // same (index, term) => same entry and identical logs before it
  kLeaderCompleteness,     // an entry committed in term T is in the log of every leader of a term > T
  kStateMachineSafety,     // no two nodes commit or apply different entries at one index
  kApplyOrder,             // a node applies index applied+1 next, never a gap or a step back
  kLiveness,               // after healing, a leader and progress within a bounded number of ticks
  kAcknowledgedWriteLost,  // an entry acknowledged to a client is committed, at its index, forever
  kStaleRead,              // a ReadIndex answer reflects every write acknowledged before the read began
  kCoreException,          // the core threw (a broken precondition or internal assertion)
};

const char* invariant_name(Invariant invariant);

struct Violation {
  Invariant invariant;
  uint64_t tick;
  std::string detail;
};

// One entry as the checker sees it. `data` is the entry's payload, compared byte for byte.
struct EntryView {
  uint64_t term;
  std::string_view data;
};

// A node's log as the checker sees it: entries [first_index, last_index], preceded by a compacted prefix
// (a snapshot) whose last term is term_at(first_index - 1). Index 0 is the empty prefix, of term 0.
class LogReader {
 public:
  virtual ~LogReader() = default;
  virtual uint64_t first_index() const = 0;
  virtual uint64_t last_index() const = 0;
  virtual uint64_t term_at(uint64_t index) const = 0;    // first_index - 1 <= index <= last_index
  virtual EntryView entry_at(uint64_t index) const = 0;  // first_index <= index <= last_index
};

// Records what every node did and reports the first broken invariant. Nodes are numbered 1..n (Raft ids).
// All checks are incremental, so calling them after every simulator step stays cheap.
class SafetyChecker {
 public:
  explicit SafetyChecker(size_t node_count);

  void set_tick(uint64_t tick) { tick_ = tick; }

  // `node` is leader of `term` right now, with `log` as its log. Checks Election Safety at once, and
  // Leader Completeness for this election against every entry known committed (now and later).
  void observe_leader(size_t node, uint64_t term, const LogReader& log);

  // Entries [from, log.last_index()] were just written to `node`'s log (after any truncation of a
  // conflicting suffix). Checks Log Matching against every entry any node ever held at those positions.
  void observe_log_write(size_t node, uint64_t from, const LogReader& log);

  // `node`, currently in `term`, reports commit index `commit` over `log`. (A node that lost its hard
  // state restarts in term 0 with the commit index its snapshot implies: an entry it reports committed was
  // committed by the highest term it ever reached, not by its current one.)
  void observe_commit(size_t node, uint64_t term, uint64_t commit, const LogReader& log);

  // `node` applied entry `index` to its state machine.
  void observe_apply(size_t node, uint64_t index, const EntryView& entry);

  // `node` replaced its state machine by a snapshot covering entries 1..index whose state hash is `hash`
  // (restart from its own snapshot, or one installed from the leader). Must equal the committed prefix.
  void observe_snapshot_restore(size_t node, uint64_t index, uint64_t hash);

  // `node` lost its volatile state (crash): its state machine is empty and its commit index forgotten.
  void observe_crash(size_t node);

  // Reports a violation found by the simulator itself (liveness, client promises).
  void fail(Invariant invariant, std::string detail);

  const std::optional<Violation>& violation() const { return violation_; }
  bool ok() const { return !violation_.has_value(); }

  size_t leader_terms() const { return leader_of_term_.size(); }

  // Committed entries known so far, by index (1-based; index 0 unused).
  uint64_t known_commit_index() const { return committed_.size() - 1; }
  std::optional<EntryView> committed_entry(uint64_t index) const;

 private:
  struct Committed {
    uint64_t term = 0;
    std::string data;
    uint64_t commit_term_bound = 0;  // an upper bound of the term in which the entry was committed
    uint64_t prefix_hash = 0;        // state hash after applying entries 1..this one
  };
  struct LeaderRecord {
    uint64_t term;
    size_t node;
    std::vector<uint64_t> log_terms;  // index -> term of the leader's log when it was elected, or
                                      // kCompacted where its snapshot covers the index
  };
  struct WrittenEntry {
    std::string data;
    uint64_t prev_term;
  };
  struct IndexTermHash {
    size_t operator()(const std::pair<uint64_t, uint64_t>& key) const {
      return std::hash<uint64_t>()(key.first * 0x9e3779b97f4a7c15ULL ^ key.second);
    }
  };

  static constexpr uint64_t kCompacted = UINT64_MAX;

  void record_committed(size_t node, uint64_t index, const EntryView& entry, uint64_t commit_term_bound,
                        const char* how);
  void check_leader_against(const LeaderRecord& leader, uint64_t index, const Committed& entry);

  uint64_t tick_ = 0;
  std::optional<Violation> violation_;
  std::map<uint64_t, size_t> leader_of_term_;
  std::vector<LeaderRecord> leaders_;
  std::vector<Committed> committed_;  // [0] is the empty prefix, so that index == position
  std::unordered_map<std::pair<uint64_t, uint64_t>, WrittenEntry, IndexTermHash> written_;
  std::vector<uint64_t> commit_seen_;   // per node: commit index already recorded
  std::vector<uint64_t> highest_term_;  // per node: the highest term it reported, storage faults or not
  std::vector<uint64_t> applied_;       // per node: last applied index
};

}  // namespace shmraft::sim
