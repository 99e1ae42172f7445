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

uint64_t splitmix64(uint64_t& x) noexcept {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
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

KeySearch::KeySearch(std::vector<const Operation*> ops, SearchBudget& budget)
    : ops_(std::move(ops)), budget_(budget) {
  if (ops_.size() > static_cast<std::size_t>(std::numeric_limits<int32_t>::max() / 2 - 1)) {
    throw std::length_error("linearizability check: too many operations on one key");
  }
  uint64_t seed = 0x5eed5eed5eed5eedULL;  // fixed: the search (and its report) is reproducible
  zobrist_.resize(ops_.size());
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

KeySearch::Outcome KeySearch::run() {
  uint32_t state = intern(std::string());
  if (state == kNoState) return Outcome::budget_exhausted;
  Hash128 linearized;
  std::string next_value;
  int32_t entry = nodes_[0].next;
  while (nodes_[0].next != -1) {
    if (!budget_.spend()) return Outcome::budget_exhausted;
    const Node& node = nodes_[entry];
    if (node.match == -1) {
      // The return of an op not yet linearized: nothing linearized so far can be followed by it.
      note_stuck(node.op, state);
      if (calls_.empty()) return Outcome::violation;
      const Frame top = calls_.back();
      calls_.pop_back();
      state = top.state;
      linearized ^= zobrist_[nodes_[top.call].op];
      unlift(top.call);
      entry = nodes_[top.call].next;
      continue;
    }
    const StepOutcome outcome = step(*ops_[node.op], values_[state], next_value);
    if (outcome != StepOutcome::illegal) {
      const uint32_t next_state = outcome == StepOutcome::changed ? intern(next_value) : state;
      if (next_state == kNoState) return Outcome::budget_exhausted;
      Hash128 next_linearized = linearized;
      next_linearized ^= zobrist_[node.op];
      if (memo_.insert(MemoEntry{next_linearized, next_state}).second) {
        calls_.push_back(Frame{entry, state});
        state = next_state;
        linearized = next_linearized;
        lift(entry);
        entry = nodes_[0].next;
        continue;
      }
    }
    entry = node.next;
  }
  return Outcome::linearizable;
}

}  // namespace shmraft::checker
