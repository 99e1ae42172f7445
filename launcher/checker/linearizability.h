#pragma once
// Linearizability of a KV history (Wing & Gong search with Lowe's just-in-time linearization and
// memoization of (linearized set, state), as in Porcupine), key by key — linearizability is local, so a
// history is linearizable iff each key's sub-history is.
//
// Model per key: the value, "" when absent. put v: value = v. append v: value += v. delete: value = "".
// cas(expect, v): "ok" iff value == expect, then value = v; "fail" iff value != expect. get: output ==
// value. An operation of unknown outcome gets return time +infinity and any output: it may take effect
// at any point after its call, or never (linearized after everything else, where it changes nothing
// observed); an unknown get constrains nothing and is dropped.
//
// Times: an operation whose call is at or before another's return is treated as concurrent with it
// (equal timestamps are not an ordering).
//
// The search stays exact (no verdict depends on a heuristic) but is pruned so that chaos-sized
// histories take milliseconds (key_search.h): reads are placed without branching, unknown writes are
// tried last and pruned by dominance, writes no pending read can follow are not placed, and a first
// attempt leaves out unknown writes that no read ever saw (if that linearizes, so does the whole).
// Cost grows with unknown outcomes. Measured on generated 20000-op histories (10 keys, 8 clients, a
// get/append/put/cas/delete mix, shared noisy machine): 0-2% unknown ops, 20-90 ms; 5%, 25-175 ms in
// 7 of 8 seeds and 3.5 s in one; 10%, 2 of 8 seeds undecided after 10 s (verdict `unknown`).
// Append-only keys stay well under a second even at 20% unknown.
#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "launcher/checker/history.h"

namespace shmraft::checker {

struct CheckOptions {
  // Wall-clock budget for the whole check; when it runs out the verdict is `unknown`, never a hang.
  std::chrono::milliseconds time_limit{std::chrono::seconds(60)};
  // Search steps (candidate linearizations tried) for the whole check; 0 = no step limit. Deterministic,
  // unlike the time limit.
  uint64_t max_steps = 0;
  // Bytes of distinct model values held at once (append histories grow them); above it: `unknown`.
  std::size_t max_state_bytes = std::size_t{1} << 30;
};

enum class Verdict : uint8_t { ok, violation, unknown };

std::string_view to_string(Verdict verdict) noexcept;

struct CheckResult {
  Verdict verdict = Verdict::ok;
  // For violation: the first key (in key order) whose history is not linearizable. For unknown: the
  // key the budget ran out on.
  std::string key;
  // Indices into the history passed in: for violation, the operation that could not be linearized at
  // the search's deepest point, followed by the operations linearized just before it and the operations
  // concurrent with it.
  std::vector<std::size_t> operations;
  // One paragraph a person can act on: the op that fails, what the model could hold there, the context.
  std::string explanation;
  uint64_t steps = 0;  // search steps spent in total
};

CheckResult check_linearizability(std::span<const Operation> history, const CheckOptions& options = {});

// "Every acknowledged write is present": `final_state` is a replica's whole map after it applied every
// committed entry (absent keys read as ""). For every key in the history or in the map, the key's history
// followed by a read of the final value — a get that starts after every recorded call and return — must
// be linearizable. So the final value is one that some linearization of the history can end with: every
// acknowledged put/append/cas/delete took effect exactly once, in an order consistent with real time and
// with every read, and each unknown-outcome operation took effect at most once. For an append workload
// with unique tokens this means each acknowledged token appears exactly once (and the explanation lists
// missing or duplicated tokens); for puts it means the final value is the value of a put that could be
// last. A key in the map that no operation in the history touches must be "".
// Verdict ok, violation (key + explanation), or unknown when the budget runs out.
CheckResult check_final_state(std::span<const Operation> history,
                              const std::map<std::string, std::string>& final_state,
                              const CheckOptions& options = {});

}  // namespace shmraft::checker
