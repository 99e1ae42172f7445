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
// bytes; two different sets collide with probability 2^-128 per pair.
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

  // `ops` must outlive the search; an op's `ret` of nullopt means +infinity.
  KeySearch(std::vector<const Operation*> ops, SearchBudget& budget);

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

  std::vector<const Operation*> ops_;
  SearchBudget& budget_;
  std::vector<Node> nodes_;  // nodes_[0] is the head sentinel
  std::vector<Hash128> zobrist_;
  std::vector<Frame> calls_;
  std::unordered_set<MemoEntry, MemoHash> memo_;
  std::deque<std::string> values_;  // a deque keeps the views in value_ids_ valid as it grows
  std::unordered_map<std::string_view, uint32_t, ViewHash> value_ids_;
  Deepest deepest_;
  bool have_deepest_ = false;
};

}  // namespace shmraft::checker
