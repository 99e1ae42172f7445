#include "node/storage/state_detection.h"

#include <string>
#include <utility>
#include <vector>

#include "node/storage/set_aside.h"

namespace shmraft::storage {

const char* to_string(StoredState state) noexcept {
  switch (state) {
    case StoredState::kFresh:
      return "fresh";
    case StoredState::kIntact:
      return "intact";
    case StoredState::kLost:
      return "lost";
  }
  return "?";
}

namespace {

// Stores the lost mark durably (in batch/always, sync() flushes a changed mark before returning).
Detection mark_lost(NodeStorage& storage, std::uint64_t incarnation, std::string why) {
  HardState marked = storage.hard_state();
  marked.lost = incarnation;
  storage.save_hard_state(marked);
  storage.sync();
  return {StoredState::kLost, std::move(why)};
}

}  // namespace

Detection detect_stored_state(NodeStorage& storage, std::uint64_t previous_incarnation,
                              std::uint64_t incarnation) {
  const RecoveryReport& report = storage.recovery();
  // Checked before the mark: a slot damaged after a repair may have held the state that cleared an older
  // mark, so the older mark names a loss that may count as repaired already. This loss is a new one.
  if (report.hard_state_slots_skipped != 0) {
    return mark_lost(storage, incarnation,
                     std::to_string(report.hard_state_slots_skipped) +
                         " damaged hard-state slot(s) skipped: the term and vote saved last may be lost");
  }
  // Cut back to its verified prefix by this open, which stored the mark before removing anything.
  if (!report.log_damage.empty()) {
    return {StoredState::kLost, "the log was cut back to entry " + std::to_string(storage.last_index()) +
                                    " after damage (" + report.log_damage +
                                    "): entries acknowledged above it may be lost"};
  }
  if (storage.hard_state().lost != 0) {
    return {StoredState::kLost, "lost mark of start " + std::to_string(storage.hard_state().lost) +
                                    " not cleared by a repair yet"};
  }
  // Set aside for damage (set_aside.h), by this start or one a crash stopped before the mark: the files
  // it held are gone from the storage, and no term saved since says a repair happened.
  if (storage.hard_state().term == 0) {
    if (const std::vector<std::string> aside = set_aside_directories(storage.dir()); !aside.empty()) {
      std::string names;
      for (const std::string& name : aside) names += (names.empty() ? "" : ", ") + name;
      return mark_lost(
          storage, incarnation,
          "the storage's damaged files were set aside (" + names + ") and nothing was saved since");
    }
  }
  if (!report.created) return {StoredState::kIntact, {}};
  if (previous_incarnation == 0) return {StoredState::kFresh, {}};
  return mark_lost(storage, incarnation,
                   "directory created by this start although start " + std::to_string(previous_incarnation) +
                       " ran before: its files are gone");
}

}  // namespace shmraft::storage
