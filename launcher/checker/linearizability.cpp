#include "launcher/checker/linearizability.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>

#include "launcher/checker/key_search.h"

namespace shmraft::checker {

namespace {
constexpr std::size_t kShownValueChars = 40;
constexpr std::size_t kShownConcurrentOps = 8;
// Marks the synthetic final read of check_final_state in a key's index list.
constexpr std::size_t kFinalRead = std::numeric_limits<std::size_t>::max();
// Bytes of read values scanned per unknown write by without_unobserved_unknown_writes, at most.
constexpr std::size_t kMaxObservationScan = std::size_t{4} << 20;
// Attempts with unobserved unknown writes left out before searching the full history.
constexpr int kReducedAttempts = 16;
// Budget of the second, unpruned search that only sharpens a violation report.
constexpr std::chrono::milliseconds kReportTimeLimit{1000};
constexpr uint64_t kReportSteps = 2'000'000;
constexpr std::size_t kReportStateBytes = std::size_t{256} << 20;

std::string quote(std::string_view s) {
  const std::string json = nlohmann::json(std::string(s.substr(0, kShownValueChars)))
                               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() <= kShownValueChars) return json;
  return json.substr(0, json.size() - 1) + "...\" (" + std::to_string(s.size()) + " bytes)";
}

std::string describe(const Operation& op) {
  std::string text = std::string(to_string(op.op));
  if (op.op == OpKind::cas) text += " " + quote(op.expect) + "->" + quote(op.value);
  if (op.op == OpKind::put || op.op == OpKind::append) text += " " + quote(op.value);
  text += op.known() ? " -> " + (op.op == OpKind::get ? quote(op.output) : op.output) : " -> unknown outcome";
  text += " (client " + std::to_string(op.client) + ", call " + std::to_string(op.call) + ", return " +
          (op.known() ? std::to_string(*op.ret) : std::string("never")) + ")";
  return text;
}

void validate(std::span<const Operation> history) {
  for (std::size_t i = 0; i < history.size(); ++i) {
    if (history[i].known() && *history[i].ret < history[i].call) {
      throw std::invalid_argument("linearizability check: operation " + std::to_string(i) +
                                  " returns before its call");
    }
  }
}

// Each key's operations (indices into the history), keys in order. An unknown-outcome get constrains
// nothing, so it is left out.
std::map<std::string_view, std::vector<std::size_t>> partition_by_key(std::span<const Operation> history) {
  std::map<std::string_view, std::vector<std::size_t>> keys;
  for (std::size_t i = 0; i < history.size(); ++i) {
    if (history[i].op == OpKind::get && !history[i].known()) continue;
    keys[history[i].key].push_back(i);
  }
  return keys;
}

// For a final-state violation on an append workload with distinct tokens: which acknowledged tokens are
// missing or repeated, the likeliest story behind it.
std::string describe_tokens(std::span<const Operation> history, const std::vector<std::size_t>& indices,
                            std::string_view final_value) {
  std::vector<std::string_view> tokens;
  for (std::size_t i : indices) {
    if (i != kFinalRead && history[i].op == OpKind::append) tokens.push_back(history[i].value);
  }
  std::vector<std::string_view> sorted = tokens;
  std::sort(sorted.begin(), sorted.end());
  if (tokens.empty() || sorted.front().empty() ||
      std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return {};
  }
  std::string text;
  for (std::size_t i : indices) {
    if (i == kFinalRead || history[i].op != OpKind::append) continue;
    const Operation& op = history[i];
    std::size_t count = 0;
    for (auto pos = final_value.find(op.value); pos != std::string_view::npos;
         pos = final_value.find(op.value, pos + op.value.size())) {
      ++count;
    }
    if (count > 1 || (count == 0 && op.known())) {
      text += "\n  " +
              std::string(count == 0 ? "missing: " : "appears " + std::to_string(count) + " times: ") +
              describe(op);
    }
  }
  return text.empty() ? text : "\nappended tokens in the final value:" + text;
}

// Splits `ops` into those kept and the unknown-outcome puts, appends and cas whose written value
// appears in no completed get's output and no cas's expected value. (Deletes and writes of "" are kept:
// their trace is absence.) A heuristic only in what it leaves out: the caller uses the kept ops solely
// to prove linearizability.
struct Reduced {
  std::vector<const Operation*> kept;
  std::vector<const Operation*> left_out;
};
Reduced without_unobserved_unknown_writes(const std::vector<const Operation*>& ops) {
  std::vector<std::string_view> observations;
  std::size_t observed_bytes = 0;
  for (const Operation* op : ops) {
    if (op->op == OpKind::get && op->known()) observations.push_back(op->output);
    if (op->op == OpKind::cas) observations.push_back(op->expect);
  }
  for (std::string_view seen : observations) observed_bytes += seen.size();
  Reduced reduced;
  reduced.kept.reserve(ops.size());
  for (const Operation* op : ops) {
    const bool candidate =
        !op->known() && op->op != OpKind::get && op->op != OpKind::del && !op->value.empty();
    // Scanning every read for every unknown write is bounded, so huge append values cannot stall it.
    const bool unobserved =
        candidate && observed_bytes <= kMaxObservationScan &&
        std::none_of(observations.begin(), observations.end(),
                     [op](std::string_view seen) { return seen.find(op->value) != std::string_view::npos; });
    (unobserved ? reduced.left_out : reduced.kept).push_back(op);
  }
  return reduced;
}

struct KeyCheck {
  std::span<const Operation> history;
  const Operation* final_read;  // for check_final_state, else nullptr
  SearchBudget& budget;
  CheckResult& result;

  // False when the check must stop (violation or budget); result filled in.
  bool run(std::string_view key, const std::vector<std::size_t>& indices) {
    std::vector<const Operation*> ops;
    ops.reserve(indices.size());
    for (std::size_t i : indices) ops.push_back(i == kFinalRead ? final_read : &history[i]);
    const auto undecided = [&] {
      result.verdict = Verdict::unknown;
      result.key = key;
      result.explanation = "key " + quote(key) + ": search budget exhausted after " +
                           std::to_string(budget.steps()) + " steps (" + std::to_string(indices.size()) +
                           " operations on this key); linearizability undecided";
      return false;
    };
    // Fast path: leaving out unknown-outcome writes no read ever saw means "they never took effect",
    // one of the options the full history allows; if that already linearizes, so does the full history.
    // Unknown writes multiply the search, and most of them never took effect.
    // When that fails, the op it got stuck on may have needed one of them (a failed cas sees any value
    // but the expected one): put back the latest one that could precede it and try again, a few times.
    Reduced reduced = without_unobserved_unknown_writes(ops);
    for (int attempt = 0; attempt < kReducedAttempts && !reduced.left_out.empty(); ++attempt) {
      KeySearch quick(reduced.kept, budget);
      const KeySearch::Outcome outcome = quick.run();
      if (outcome == KeySearch::Outcome::linearizable) return true;
      if (outcome == KeySearch::Outcome::budget_exhausted) return undecided();
      const Operation& stuck = *reduced.kept[quick.deepest().stuck];
      const uint64_t stuck_return = stuck.ret.value_or(std::numeric_limits<uint64_t>::max());
      auto latest = reduced.left_out.end();
      for (auto it = reduced.left_out.begin(); it != reduced.left_out.end(); ++it) {
        if ((*it)->call <= stuck_return &&
            (latest == reduced.left_out.end() || (*it)->call > (*latest)->call)) {
          latest = it;
        }
      }
      if (latest == reduced.left_out.end()) break;
      reduced.kept.push_back(*latest);
      reduced.left_out.erase(latest);
    }
    KeySearch search(ops, budget);
    switch (search.run()) {
      case KeySearch::Outcome::linearizable:
        return true;
      case KeySearch::Outcome::budget_exhausted:
        return undecided();
      case KeySearch::Outcome::violation: {
        // Read pruning finds a dead end early, at the write before the read that rules it out. Search
        // again without it, on a budget of its own, so that the report can name that read.
        // (For a final-state violation the pruned report is the better one: the op it names is the write
        // that the final value lacks.)
        if (final_read != nullptr) {
          report(key, indices, ops, search.deepest());
          return false;
        }
        SearchBudget report_budget(kReportTimeLimit, kReportSteps, kReportStateBytes);
        KeySearch plain(ops, report_budget, /*prune_by_reads=*/false);
        const bool precise = plain.run() == KeySearch::Outcome::violation;
        report(key, indices, ops, precise ? plain.deepest() : search.deepest());
        return false;
      }
    }
    return false;
  }

  void report(std::string_view key, const std::vector<std::size_t>& indices,
              const std::vector<const Operation*>& ops, const KeySearch::Deepest& deepest) {
    result.verdict = Verdict::violation;
    result.key = key;
    const auto name = [&](std::size_t op) {
      return indices[op] == kFinalRead ? "final state read " + quote(final_read->output) : describe(*ops[op]);
    };
    const auto add = [&](std::size_t op) {
      if (indices[op] != kFinalRead) result.operations.push_back(indices[op]);
    };
    std::string& text = result.explanation;
    text = "key " + quote(key) + ": no linearization explains " + name(deepest.stuck) + "\n";
    add(deepest.stuck);
    text += "longest linearizable prefix: " + std::to_string(deepest.depth) + " of " +
            std::to_string(ops.size()) + " operations" + (deepest.before.empty() ? "" : ", ending with:") +
            "\n";
    for (std::size_t op : deepest.before) {
      text.append("  ").append(name(op)).append("\n");
      add(op);
    }
    text += "after which the value could be:";
    for (const std::string& v : deepest.values) text.append(" ").append(quote(v));

    const Operation& stuck = *ops[deepest.stuck];
    const uint64_t stuck_return = stuck.ret.value_or(std::numeric_limits<uint64_t>::max());
    std::size_t shown = 0, concurrent = 0;
    std::string listing;
    for (std::size_t op = 0; op < ops.size(); ++op) {
      if (op == deepest.stuck ||
          std::find(deepest.before.begin(), deepest.before.end(), op) != deepest.before.end()) {
        continue;
      }
      const uint64_t op_return = ops[op]->ret.value_or(std::numeric_limits<uint64_t>::max());
      if (ops[op]->call > stuck_return || op_return < stuck.call) continue;
      ++concurrent;
      if (shown++ < kShownConcurrentOps) {
        listing.append("\n  ").append(name(op));
        add(op);
      }
    }
    if (concurrent > 0) text += "\nconcurrent with it:" + listing;
    if (concurrent > shown) text += "\n  ... and " + std::to_string(concurrent - shown) + " more";
    if (final_read != nullptr) text += describe_tokens(history, indices, final_read->output);
  }
};

CheckResult finish(CheckResult result, const SearchBudget& budget) {
  result.steps = budget.steps();
  return result;
}
}  // namespace

std::string_view to_string(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::ok:
      return "ok";
    case Verdict::violation:
      return "violation";
    case Verdict::unknown:
      return "unknown";
  }
  return "unknown verdict";
}

CheckResult check_linearizability(std::span<const Operation> history, const CheckOptions& options) {
  validate(history);
  SearchBudget budget(options.time_limit, options.max_steps, options.max_state_bytes);
  CheckResult result;
  KeyCheck check{history, nullptr, budget, result};
  for (const auto& [key, indices] : partition_by_key(history)) {
    if (!check.run(key, indices)) break;
  }
  return finish(std::move(result), budget);
}

CheckResult check_final_state(std::span<const Operation> history,
                              const std::map<std::string, std::string>& final_state,
                              const CheckOptions& options) {
  validate(history);
  SearchBudget budget(options.time_limit, options.max_steps, options.max_state_bytes);
  CheckResult result;

  // The final read starts after every recorded instant, so every acknowledged operation precedes it and
  // only unknown-outcome operations may still fall on either side.
  uint64_t last_instant = 0;
  for (const Operation& op : history) last_instant = std::max({last_instant, op.call, op.ret.value_or(0)});
  Operation final_read;
  final_read.op = OpKind::get;
  final_read.call = last_instant + 1;
  final_read.ret = last_instant + 2;

  auto keys = partition_by_key(history);
  for (const auto& [key, value] : final_state) {
    if (!keys.contains(key) && !value.empty()) {
      result.verdict = Verdict::violation;
      result.key = key;
      result.explanation =
          "key " + quote(key) + " holds " + quote(value) + " but no operation in the history wrote it";
      return finish(std::move(result), budget);
    }
  }
  KeyCheck check{history, &final_read, budget, result};
  for (auto& [key, indices] : keys) {
    const auto it = final_state.find(std::string(key));
    final_read.key = key;
    final_read.output = it == final_state.end() ? std::string() : it->second;
    indices.push_back(kFinalRead);
    if (!check.run(key, indices)) break;
  }
  return finish(std::move(result), budget);
}

}  // namespace shmraft::checker
