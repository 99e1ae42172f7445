#pragma once
// The linearizability search over one key's operations (Wing & Gong with Lowe's just-in-time
// linearization, memoized as in Porcupine). Internal to shmraft_checker.
//
// Calls and returns form one time-ordered doubly linked list. The search walks it: at a call it tries to
// linearize that operation now (legal in the model, and (linearized set, value) not seen before), and if
// so lifts the call and its return out of the list and starts again from the head; at a return it has
// failed to place an operation that must precede everything after, so it backtracks. An operation of
// unknown outcome has its return at +infinity. The linearized set is remembered as a 128-bit Zobrist hash
// (XOR of a random key per operation, O(1) to update) and values are interned, so a memo entry is 20
// bytes; two different sets collide with probability 2^-128 per pair. Candidates are ordered so that
// reads are placed without branching and unknown-outcome writes last (see run()).
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "launcher/checker/history.h"

namespace shmraft::checker {

// Shared by every key of one check, so the limits hold for the whole check.
class SearchBudget {
 public:
  SearchBudget(std::chrono::milliseconds time_limit, uint64_t max_steps, std::size_t max_state_bytes);

  // Counts one step; false once a limit is reached (the clock is read every 1024 steps).
  bool spend();
  bool hold_state_bytes(std::size_t bytes);
  uint64_t steps() const noexcept { return steps_; }

 private:
  std::chrono::steady_clock::time_point deadline_;
  uint64_t max_steps_;
  std::size_t max_state_bytes_;
  uint64_t steps_ = 0;
  bool exhausted_ = false;
};

class KeySearch {
 public:
  enum class Outcome : uint8_t { linearizable, violation, budget_exhausted };

  // `ops` must outlive the search; an op's `ret` of nullopt means +infinity. `prune_by_reads` enables
  // reads_can_follow(): it never changes the verdict, but it detects a dead end before the read that
  // causes it, so the report of a search without it names the offending read more precisely.
  KeySearch(std::vector<const Operation*> ops, SearchBudget& budget, bool prune_by_reads = true);

  Outcome run();

  // After a violation: where the search got furthest. `stuck` is the op (index into `ops`) that could
  // not be linearized there, `before` the ops linearized just before it (oldest first), `depth` how many
  // were linearized in all, and `values` what the key could hold at that point.
  struct Deepest {
    std::size_t depth = 0;
    std::size_t stuck = 0;
    std::vector<std::size_t> before;
    std::vector<std::string> values;
  };
  const Deepest& deepest() const noexcept { return deepest_; }

 private:
  struct Node {
    int32_t prev = -1;
    int32_t next = -1;
    int32_t match = -1;  // a call's return node; -1 for a return
    uint32_t op = 0;
  };
  struct Frame {
    int32_t call;
    uint32_t state;
    bool forced;  // placed without alternatives: backtracking over it backtracks its node too
  };
  struct Hash128 {
    uint64_t lo = 0, hi = 0;
    Hash128& operator^=(const Hash128& o) noexcept {
      lo ^= o.lo;
      hi ^= o.hi;
      return *this;
    }
  };
  struct MemoEntry {
    Hash128 set;
    uint32_t state;
    bool operator==(const MemoEntry& o) const noexcept {
      return set.lo == o.set.lo && set.hi == o.set.hi && state == o.state;
    }
  };
  struct MemoHash {
    std::size_t operator()(const MemoEntry& e) const noexcept {
      return e.set.lo ^ (e.set.hi * 0x9e3779b97f4a7c15ULL) ^ (uint64_t{e.state} << 17);
    }
  };
  struct ViewHash {
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  void build_list();
  void lift(int32_t call);
  void unlift(int32_t call);
  // The id of `value`, adding it if new; UINT32_MAX when the state-byte budget is exhausted.
  uint32_t intern(const std::string& value);
  void note_stuck(uint32_t op, uint32_t state);
  // Prunes orders that no later read can accept: placing the op at list node `placing` would make the
  // value `value`. Between now and a pending get, the value can only grow by appends unless a pending
  // put, delete or cas resets it, so the get's output must start with `value` or with the result of
  // such a reset that may precede it. Checks the earliest few pending gets, and the anchor (the get
  // called last — for check_final_state, the final read) against every pending reset.
  bool reads_can_follow(std::string_view value, int32_t placing);
  void place(int32_t call, uint32_t next_state, const Hash128& next_linearized, bool forced);
  Frame unplace();
  void count_placement(uint32_t op, int direction);  // +1 placed, -1 undone
  // Unknown-outcome dominance. If a node (completed ops K, unknown ops T, value v) has no completion,
  // neither has (K, T' ⊇ T, v): a completion of the latter followed by T' \ T (legal at the end, with
  // no return to respect) would complete the former. Failed nodes are recorded per (K, v); a new node
  // is pruned when a recorded T is a subset of its own.
  bool dominated(const Hash128& known, uint32_t state) const;
  void record_failure();
  void toggle_unknown(uint32_t op);
  std::vector<const Operation*> ops_;
  SearchBudget& budget_;
  std::vector<Node> nodes_;  // nodes_[0] is the head sentinel
  std::vector<Hash128> zobrist_;
  std::vector<Frame> calls_;
  bool prune_by_reads_;
  Hash128 linearized_;        // Zobrist hash of every linearized op
  Hash128 known_linearized_;  // ... of the linearized completed ops only
  uint32_t state_ = 0;
  std::vector<int32_t> unknown_bit_;  // per op: its bit in unknown_linearized_, or -1 for a completed op
  std::vector<uint64_t> unknown_linearized_;
  std::unordered_map<MemoEntry, std::vector<std::vector<uint64_t>>, MemoHash> failures_;
  uint32_t anchor_ = 0;
  bool anchor_pending_ = false;             // false also when the key has no completed get
  std::vector<bool> resets_toward_anchor_;  // per op: a reset whose result starts the anchor's output
  std::size_t anchor_resets_pending_ = 0;
  std::vector<std::string_view> reset_results_;  // scratch for reads_can_follow
  std::vector<std::string_view> append_values_;  // scratch for reads_can_follow
  std::unordered_set<MemoEntry, MemoHash> memo_;
  std::deque<std::string> values_;  // a deque keeps the views in value_ids_ valid as it grows
  std::unordered_map<std::string_view, uint32_t, ViewHash> value_ids_;
  Deepest deepest_;
  bool have_deepest_ = false;
  bool has_unknown_ = false;
};

}  // namespace shmraft::checker
