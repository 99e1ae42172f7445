#include "launcher/checker/key_search.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "launcher/checker/kv_model.h"

namespace shmraft::checker {

namespace {
constexpr uint64_t kInfinity = std::numeric_limits<uint64_t>::max();
constexpr uint32_t kNoState = std::numeric_limits<uint32_t>::max();
constexpr std::size_t kContextOps = 5;    // ops linearized before the stuck one, kept for the report
constexpr std::size_t kReportValues = 4;  // distinct values the key could hold there, kept for the report
constexpr std::size_t kProbedReads = 3;   // pending reads checked by reads_can_follow
constexpr std::size_t kProbeWalk = 256;   // list entries it looks at, at most

uint64_t splitmix64(uint64_t& x) noexcept {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// True for ops that leave every value as it is wherever they are legal: reads, a cas recorded as failed,
// a cas writing back what it expects, an empty append. (An unknown cas or a put of the current value
// does not qualify: placed elsewhere it would change the value.)
bool never_changes(const Operation& op) noexcept {
  switch (op.op) {
    case OpKind::get:
      return true;
    case OpKind::cas:
      return (op.known() && op.output == "fail") || op.expect == op.value;
    case OpKind::append:
      return op.value.empty();
    case OpKind::put:
    case OpKind::del:
      return false;
  }
  return false;
}

// Ops that can make the value shorter or unrelated; without them pending, the value only grows.
bool resets(const Operation& op) noexcept {
  return op.op == OpKind::put || op.op == OpKind::del || (op.op == OpKind::cas && !never_changes(op));
}

// The value right after a reset takes effect.
std::string_view reset_result(const Operation& op) noexcept {
  return op.op == OpKind::del ? std::string_view() : std::string_view(op.value);
}
}  // namespace

SearchBudget::SearchBudget(std::chrono::milliseconds time_limit, uint64_t max_steps,
                           std::size_t max_state_bytes)
    : deadline_(std::chrono::steady_clock::now() + time_limit),
      max_steps_(max_steps),
      max_state_bytes_(max_state_bytes) {}

bool SearchBudget::spend() {
  if (exhausted_) return false;
  ++steps_;
  if ((max_steps_ != 0 && steps_ >= max_steps_) ||
      ((steps_ & 1023) == 0 && std::chrono::steady_clock::now() >= deadline_)) {
    exhausted_ = true;
  }
  return !exhausted_;
}

bool SearchBudget::hold_state_bytes(std::size_t bytes) {
  if (bytes > max_state_bytes_) {
    exhausted_ = true;
    return false;
  }
  max_state_bytes_ -= bytes;
  return true;
}

KeySearch::KeySearch(std::vector<const Operation*> ops, SearchBudget& budget, bool prune_by_reads)
    : ops_(std::move(ops)), budget_(budget), prune_by_reads_(prune_by_reads) {
  if (ops_.size() > static_cast<std::size_t>(std::numeric_limits<int32_t>::max() / 2 - 1)) {
    throw std::length_error("linearizability check: too many operations on one key");
  }
  uint64_t seed = 0x5eed5eed5eed5eedULL;  // fixed: the search (and its report) is reproducible
  zobrist_.resize(ops_.size());
  unknown_bit_.assign(ops_.size(), -1);
  int32_t unknown_count = 0;
  for (std::size_t i = 0; i < ops_.size(); ++i) {
    if (!ops_[i]->known()) unknown_bit_[i] = unknown_count++;
  }
  has_unknown_ = unknown_count > 0;
  // The anchor: the get called last, the read most likely to stay pending while the rest is placed.
  anchor_pending_ = false;
  for (std::size_t i = 0; i < ops_.size(); ++i) {
    if (ops_[i]->op == OpKind::get && ops_[i]->known() &&
        (!anchor_pending_ || ops_[i]->call >= ops_[anchor_]->call)) {
      anchor_ = static_cast<uint32_t>(i);
      anchor_pending_ = true;
    }
  }
  resets_toward_anchor_.assign(ops_.size(), false);
  if (anchor_pending_) {
    const std::string& anchor_output = ops_[anchor_]->output;
    // After a reset to "", the anchor can only read "" or something that starts with an appended value.
    const bool anchor_follows_empty =
        anchor_output.empty() || std::any_of(ops_.begin(), ops_.end(), [&anchor_output](const Operation* op) {
          return op->op == OpKind::append && !op->value.empty() && anchor_output.starts_with(op->value);
        });
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if (!resets(*ops_[i])) continue;
      const std::string_view result = reset_result(*ops_[i]);
      resets_toward_anchor_[i] = result.empty() ? anchor_follows_empty : anchor_output.starts_with(result);
      anchor_resets_pending_ += resets_toward_anchor_[i] ? 1 : 0;
    }
  }
  unknown_linearized_.assign((static_cast<std::size_t>(unknown_count) + 63) / 64, 0);
  for (Hash128& h : zobrist_) h = {splitmix64(seed), splitmix64(seed)};
  build_list();
}

void KeySearch::build_list() {
  struct Event {
    uint64_t time;
    bool is_return;
    uint32_t op;
  };
  std::vector<Event> events;
  events.reserve(2 * ops_.size());
  for (uint32_t i = 0; i < ops_.size(); ++i) {
    events.push_back({ops_[i]->call, false, i});
    events.push_back({ops_[i]->ret.value_or(kInfinity), true, i});
  }
  // At equal times calls come first: touching intervals count as concurrent, the permissive reading.
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    if (a.time != b.time) return a.time < b.time;
    if (a.is_return != b.is_return) return !a.is_return;
    return a.op < b.op;
  });
  nodes_.assign(events.size() + 1, Node{});
  std::vector<int32_t> return_node(ops_.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto n = static_cast<int32_t>(i + 1);
    nodes_[n].op = events[i].op;
    nodes_[n].prev = n - 1;
    nodes_[n].next = i + 1 < events.size() ? n + 1 : -1;
    if (events[i].is_return) return_node[events[i].op] = n;
  }
  nodes_[0].next = events.empty() ? -1 : 1;
  for (std::size_t n = 1; n < nodes_.size(); ++n) {
    const uint32_t op = nodes_[n].op;
    if (return_node[op] != static_cast<int32_t>(n)) nodes_[n].match = return_node[op];
  }
}

// A call always has a successor (at least its own return); a return may be last.
void KeySearch::lift(int32_t call) {
  Node& c = nodes_[call];
  nodes_[c.prev].next = c.next;
  nodes_[c.next].prev = c.prev;
  Node& r = nodes_[c.match];
  nodes_[r.prev].next = r.next;
  if (r.next != -1) nodes_[r.next].prev = r.prev;
}

void KeySearch::unlift(int32_t call) {
  Node& c = nodes_[call];
  Node& r = nodes_[c.match];
  nodes_[r.prev].next = c.match;
  if (r.next != -1) nodes_[r.next].prev = c.match;
  nodes_[c.prev].next = call;
  nodes_[c.next].prev = call;
}

uint32_t KeySearch::intern(const std::string& value) {
  if (const auto it = value_ids_.find(value); it != value_ids_.end()) return it->second;
  if (!budget_.hold_state_bytes(value.size() + sizeof(std::string))) return kNoState;
  values_.push_back(value);
  const auto id = static_cast<uint32_t>(values_.size() - 1);
  value_ids_.emplace(values_.back(), id);
  return id;
}

void KeySearch::toggle_unknown(uint32_t op) {
  const auto bit = static_cast<std::size_t>(unknown_bit_[op]);
  unknown_linearized_[bit / 64] ^= uint64_t{1} << (bit % 64);
}

namespace {
bool is_subset(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) noexcept {
  for (std::size_t i = 0; i < a.size(); ++i) {
    if ((a[i] & ~b[i]) != 0) return false;
  }
  return true;
}
}  // namespace

bool KeySearch::dominated(const Hash128& known, uint32_t state) const {
  const auto it = failures_.find(MemoEntry{known, state});
  if (it == failures_.end()) return false;
  for (const auto& failed : it->second) {
    if (is_subset(failed, unknown_linearized_)) return true;
  }
  return false;
}

void KeySearch::record_failure() {
  if (!has_unknown_) return;  // the exact memo already covers every node
  auto& failed = failures_[MemoEntry{known_linearized_, state_}];
  for (const auto& f : failed) {
    if (is_subset(f, unknown_linearized_)) return;  // already implied
  }
  // Drop recorded sets the new one implies, so each (K, v) keeps only minimal sets.
  std::erase_if(failed, [this](const std::vector<uint64_t>& f) { return is_subset(unknown_linearized_, f); });
  failed.push_back(unknown_linearized_);
}

bool KeySearch::reads_can_follow(std::string_view value, int32_t placing) {
  if (!prune_by_reads_) return true;
  if (anchor_pending_ && anchor_resets_pending_ == 0 && !ops_[anchor_]->output.starts_with(value))
    return false;
  // One walk over the head of the list. A reset whose call is listed before a read's return may still
  // be linearized before that read, so the read's value must extend `value` or one of those results;
  // after a reset to "" (a delete), it must be "" or start with an append that may precede the read.
  reset_results_.clear();
  append_values_.clear();
  bool empty_reset = false;
  int32_t probed_returns[kProbedReads];
  std::size_t probed = 0, checked = 0, walked = 0;
  for (int32_t n = nodes_[0].next; n != -1 && walked < kProbeWalk; n = nodes_[n].next, ++walked) {
    if (n == placing) continue;
    const Node& node = nodes_[n];
    const Operation& op = *ops_[node.op];
    if (node.match != -1) {
      if (resets(op)) {
        const std::string_view result = reset_result(op);
        if (result.empty()) {
          empty_reset = true;
        } else {
          reset_results_.push_back(result);
        }
      } else if (op.op == OpKind::append) {
        append_values_.push_back(op.value);
      } else if (op.op == OpKind::get && probed < kProbedReads) {
        probed_returns[probed++] = node.match;
      }
      continue;
    }
    if (std::find(probed_returns, probed_returns + probed, n) == probed_returns + probed) continue;
    const auto extends = [&op](std::string_view prefix) { return op.output.starts_with(prefix); };
    const bool feasible =
        extends(value) || std::any_of(reset_results_.begin(), reset_results_.end(), extends) ||
        (empty_reset &&
         (op.output.empty() || std::any_of(append_values_.begin(), append_values_.end(), extends)));
    if (!feasible) return false;
    if (++checked == kProbedReads) break;
  }
  return true;
}

void KeySearch::place(int32_t call, uint32_t next_state, const Hash128& next_linearized, bool forced) {
  const uint32_t op = nodes_[call].op;
  calls_.push_back(Frame{call, state_, forced});
  state_ = next_state;
  linearized_ = next_linearized;
  count_placement(op, +1);
  lift(call);
}

KeySearch::Frame KeySearch::unplace() {
  const Frame top = calls_.back();
  calls_.pop_back();
  const uint32_t op = nodes_[top.call].op;
  state_ = top.state;
  linearized_ ^= zobrist_[op];
  count_placement(op, -1);
  unlift(top.call);
  return top;
}

void KeySearch::count_placement(uint32_t op, int direction) {
  if (ops_[op]->known()) {
    known_linearized_ ^= zobrist_[op];
  } else {
    toggle_unknown(op);
  }
  if (op == anchor_) anchor_pending_ = direction < 0;
  if (resets_toward_anchor_[op]) anchor_resets_pending_ -= direction;
}

void KeySearch::note_stuck(uint32_t op, uint32_t state) {
  const std::size_t depth = calls_.size();
  if (!have_deepest_ || depth > deepest_.depth) {
    have_deepest_ = true;
    deepest_.depth = depth;
    deepest_.stuck = op;
    deepest_.before.clear();
    for (std::size_t i = depth > kContextOps ? depth - kContextOps : 0; i < depth; ++i) {
      deepest_.before.push_back(nodes_[calls_[i].call].op);
    }
    deepest_.values.assign(1, values_[state]);
  } else if (depth == deepest_.depth && op == deepest_.stuck && deepest_.values.size() < kReportValues &&
             std::find(deepest_.values.begin(), deepest_.values.end(), values_[state]) ==
                 deepest_.values.end()) {
    deepest_.values.push_back(values_[state]);
  }
}

// Candidates at a search node are the calls before the first pending return. They are tried in three
// passes, which together try every candidate once, so the search stays complete:
//  1. forced: an op that is legal now and changes the value in no state (see never_changes). If any
//     completion from this node exists, one exists that places that op first: moving it changes no
//     other op's view, and every op still pending returns after its call. So it is placed without
//     alternatives, and if its subtree fails, the whole node fails.
//  2. other completed operations.
//  3. other unknown-outcome operations — only once no completed operation can go next,
//     rather than eagerly at their call, which multiplied the distinct values in append histories.
KeySearch::Outcome KeySearch::run() {
  enum class Pass : uint8_t { forced, known, unknown };
  state_ = intern(std::string());
  if (state_ == kNoState) return Outcome::budget_exhausted;
  std::string next_value;
  Pass pass = Pass::forced;
  int32_t entry = nodes_[0].next;

  // Undoes frames until one whose node has candidates left; false when the search space is exhausted.
  const auto backtrack = [&]() {
    while (!calls_.empty()) {
      record_failure();
      const Frame top = unplace();
      if (top.forced) continue;
      const uint32_t op = nodes_[top.call].op;
      entry = nodes_[top.call].next;
      pass = ops_[op]->known() ? Pass::known : Pass::unknown;
      return true;
    }
    return false;
  };

  while (nodes_[0].next != -1) {
    if (!budget_.spend()) return Outcome::budget_exhausted;
    const Node& node = nodes_[entry];
    if (node.match == -1) {
      if (pass == Pass::forced || (pass == Pass::known && has_unknown_)) {
        pass = pass == Pass::forced ? Pass::known : Pass::unknown;
        entry = nodes_[0].next;
        continue;
      }
      // The return of an op not yet linearized: nothing linearized so far can be followed by it.
      note_stuck(node.op, state_);
      if (!backtrack()) return Outcome::violation;
      continue;
    }
    const Operation& op = *ops_[node.op];
    const StepOutcome outcome = step(op, values_[state_], next_value);
    const bool candidate =
        outcome != StepOutcome::illegal &&
        (pass == Pass::forced
             ? never_changes(op)
             : !never_changes(op) && op.known() == (pass == Pass::known) &&
                   (outcome == StepOutcome::unchanged || reads_can_follow(next_value, entry)));
    if (!candidate) {
      entry = node.next;
      continue;
    }
    const uint32_t next_state = outcome == StepOutcome::changed ? intern(next_value) : state_;
    if (next_state == kNoState) return Outcome::budget_exhausted;
    Hash128 next_linearized = linearized_;
    next_linearized ^= zobrist_[node.op];
    if (memo_.insert(MemoEntry{next_linearized, next_state}).second) {
      place(entry, next_state, next_linearized, pass == Pass::forced);
      entry = nodes_[0].next;
      pass = Pass::forced;
      if (has_unknown_ && dominated(known_linearized_, state_)) {
        if (!backtrack()) return Outcome::violation;
      }
    } else if (pass == Pass::forced) {
      // The forced successor was explored before and failed, so this node fails too.
      if (!backtrack()) return Outcome::violation;
    } else {
      entry = node.next;
    }
  }
  return Outcome::linearizable;
}

}  // namespace shmraft::checker
