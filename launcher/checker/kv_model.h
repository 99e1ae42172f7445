#pragma once
// The sequential KV model the checker linearizes against, for one key. Internal to shmraft_checker.
#include <optional>
#include <string>
#include <string_view>

#include "launcher/checker/history.h"

namespace shmraft::checker {

// Outcome of applying one operation to a state (the key's value, "" when absent).
enum class StepOutcome : uint8_t {
  illegal,    // the recorded output is impossible in this state
  unchanged,  // legal, the value stays as it is (get, failed cas)
  changed,    // legal, the value becomes `next`
};

// An unknown-outcome operation accepts any output; its effect is what the model says it would do.
inline StepOutcome step(const Operation& op, std::string_view state, std::string& next) {
  switch (op.op) {
    case OpKind::get:
      return !op.known() || op.output == state ? StepOutcome::unchanged : StepOutcome::illegal;
    case OpKind::put:
      next.assign(op.value);
      return StepOutcome::changed;
    case OpKind::append:
      next.reserve(state.size() + op.value.size());
      next.assign(state);
      next.append(op.value);
      return StepOutcome::changed;
    case OpKind::del:
      next.clear();
      return StepOutcome::changed;
    case OpKind::cas: {
      const bool matches = state == op.expect;
      if (op.known() && (op.output == "ok") != matches) return StepOutcome::illegal;
      if (!matches) return StepOutcome::unchanged;
      next.assign(op.value);
      return StepOutcome::changed;
    }
  }
  return StepOutcome::illegal;
}

}  // namespace shmraft::checker
