#include "tests/sim/safety_checker.h"

#include <algorithm>
#include <sstream>

#include "tests/sim/state_hash.h"

namespace shmraft::sim {

const char* invariant_name(Invariant invariant) {
  switch (invariant) {
    case Invariant::kElectionSafety:
      return "Election Safety";
    case Invariant::kLogMatching:
      return "Log Matching";
    case Invariant::kLeaderCompleteness:
      return "Leader Completeness";
    case Invariant::kStateMachineSafety:
      return "State Machine Safety";
    case Invariant::kApplyOrder:
      return "Apply Order";
    case Invariant::kLiveness:
      return "Liveness after healing";
    case Invariant::kAcknowledgedWriteLost:
      return "Acknowledged write lost";
    case Invariant::kStaleRead:
      return "Stale ReadIndex read";
    case Invariant::kCoreException:
      return "Core exception";
  }
  return "unknown invariant";
}

namespace {

std::string printable(std::string_view data) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : data.substr(0, 24)) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (data.size() > 24) out += "...";
  return out + "\"";
}

}  // namespace

SafetyChecker::SafetyChecker(size_t node_count)
    : committed_(1, Committed{0, {}, 0, kEmptyStateHash}),
      commit_seen_(node_count + 1, 0),
      highest_term_(node_count + 1, 0),
      applied_(node_count + 1, 0) {}

void SafetyChecker::fail(Invariant invariant, std::string detail) {
  if (!violation_) violation_ = Violation{invariant, tick_, std::move(detail)};
}

std::optional<EntryView> SafetyChecker::committed_entry(uint64_t index) const {
  if (index == 0 || index >= committed_.size()) return std::nullopt;
  return EntryView{committed_[index].term, committed_[index].data};
}

void SafetyChecker::observe_leader(size_t node, uint64_t term, const LogReader& log) {
  auto [it, inserted] = leader_of_term_.emplace(term, node);
  if (!inserted) {
    if (it->second != node) {
      std::ostringstream out;
      out << "nodes " << it->second << " and " << node << " were both leader of term " << term;
      fail(Invariant::kElectionSafety, out.str());
    }
    return;  // this election was already recorded and checked
  }
  LeaderRecord record{term, node, std::vector<uint64_t>(log.last_index() + 1, kCompacted)};
  record.log_terms[0] = 0;
  for (uint64_t i = std::max<uint64_t>(log.first_index(), 2) - 1; i <= log.last_index(); ++i) {
    record.log_terms[i] = log.term_at(i);
  }
  for (uint64_t i = 1; i < committed_.size() && ok(); ++i) check_leader_against(record, i, committed_[i]);
  leaders_.push_back(std::move(record));
}

void SafetyChecker::check_leader_against(const LeaderRecord& leader, uint64_t index, const Committed& entry) {
  if (leader.term <= entry.commit_term_bound) return;
  // A snapshot holds only applied, hence committed, entries; their equality is checked by state hash.
  if (index < leader.log_terms.size() && leader.log_terms[index] == kCompacted) return;
  if (index < leader.log_terms.size() && leader.log_terms[index] == entry.term) return;
  std::ostringstream out;
  out << "entry " << index << " (term " << entry.term << ", " << printable(entry.data)
      << ") was committed by term " << entry.commit_term_bound << ", but node " << leader.node
      << " became leader of term " << leader.term << " with ";
  if (index < leader.log_terms.size()) {
    out << "an entry of term " << leader.log_terms[index] << " there";
  } else {
    out << "a log ending at " << leader.log_terms.size() - 1;
  }
  fail(Invariant::kLeaderCompleteness, out.str());
}

void SafetyChecker::observe_log_write(size_t node, uint64_t from, const LogReader& log) {
  for (uint64_t i = std::max(from, log.first_index()); i <= log.last_index(); ++i) {
    const EntryView entry = log.entry_at(i);
    const uint64_t prev_term = log.term_at(i - 1);
    auto [it, inserted] =
        written_.try_emplace({i, entry.term}, WrittenEntry{std::string(entry.data), prev_term});
    if (inserted) continue;
    // By induction on the index, "equal payload and equal previous term at every shared (index, term)" is
    // exactly "logs identical up to any shared (index, term)".
    if (it->second.data != entry.data || it->second.prev_term != prev_term) {
      std::ostringstream out;
      out << "node " << node << " holds entry " << i << " of term " << entry.term << " = "
          << printable(entry.data) << " after an entry of term " << prev_term << ", but another log held "
          << printable(it->second.data) << " after term " << it->second.prev_term
          << " at the same (index, term)";
      fail(Invariant::kLogMatching, out.str());
      return;
    }
  }
}

void SafetyChecker::record_committed(size_t node, uint64_t index, const EntryView& entry,
                                     uint64_t commit_term_bound, const char* how) {
  if (index == committed_.size()) {
    const uint64_t hash = chain_state_hash(committed_.back().prefix_hash, index, entry.term, entry.data);
    committed_.push_back(Committed{entry.term, std::string(entry.data), commit_term_bound, hash});
    for (const LeaderRecord& leader : leaders_) check_leader_against(leader, index, committed_[index]);
    return;
  }
  Committed& known = committed_[index];
  if (known.term != entry.term || known.data != entry.data) {
    std::ostringstream out;
    out << "node " << node << " " << how << " entry " << index << " = (term " << entry.term << ", "
        << printable(entry.data) << "), but (term " << known.term << ", " << printable(known.data)
        << ") was already committed there";
    fail(Invariant::kStateMachineSafety, out.str());
    return;
  }
  if (commit_term_bound < known.commit_term_bound) {
    known.commit_term_bound = commit_term_bound;
    for (const LeaderRecord& leader : leaders_) check_leader_against(leader, index, known);
  }
}

void SafetyChecker::observe_commit(size_t node, uint64_t term, uint64_t commit, const LogReader& log) {
  highest_term_[node] = std::max(highest_term_[node], term);
  term = highest_term_[node];
  commit = std::min(commit, log.last_index());
  // Entries below first_index are in the node's snapshot, which was checked by hash when it was taken in.
  // Commits reveal whole prefixes and commit_seen_ never passes the known commit index, so entries are
  // recorded in order, without a gap.
  for (uint64_t i = std::max(commit_seen_[node] + 1, log.first_index()); i <= commit && ok(); ++i) {
    if (i > committed_.size()) break;
    record_committed(node, i, log.entry_at(i), term, "commits");
  }
  commit_seen_[node] = std::max(commit_seen_[node], std::min<uint64_t>(commit, committed_.size() - 1));
}

void SafetyChecker::observe_apply(size_t node, uint64_t index, const EntryView& entry) {
  if (index != applied_[node] + 1 || index > committed_.size()) {
    std::ostringstream out;
    out << "node " << node << " applied entry " << index << " right after entry " << applied_[node]
        << " (entries known committed: 1.." << committed_.size() - 1 << ")";
    fail(Invariant::kApplyOrder, out.str());
    return;
  }
  applied_[node] = index;
  // Applying proves commitment but says nothing about the term it happened in: no Leader Completeness
  // obligation beyond what observe_commit recorded.
  record_committed(node, index, entry, UINT64_MAX, "applies");
}

void SafetyChecker::observe_snapshot_restore(size_t node, uint64_t index, uint64_t hash) {
  if (index >= committed_.size() || committed_[index].prefix_hash != hash) {
    std::ostringstream out;
    out << "node " << node << " restored a snapshot of entries 1.." << index << " that ";
    if (index >= committed_.size()) {
      out << "goes beyond the known commit index " << committed_.size() - 1;
    } else {
      out << "differs from the committed entries 1.." << index;
    }
    fail(Invariant::kStateMachineSafety, out.str());
    return;
  }
  applied_[node] = index;
}

void SafetyChecker::observe_crash(size_t node) {
  commit_seen_[node] = 0;
  applied_[node] = 0;
}

}  // namespace shmraft::sim
