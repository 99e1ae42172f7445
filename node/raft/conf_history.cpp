#include "node/raft/conf_history.h"

#include <algorithm>

namespace shmraft::raft {

void ConfHistory::reset(Index index, const ConfState& conf) {
  changes_.assign(1, Change{index, conf});
}

void ConfHistory::record(Index index, const ConfState& conf) {
  changes_.push_back(Change{index, conf});
}

bool ConfHistory::truncate_from(Index index) {
  // The first change (snapshot or bootstrap) lies below any entry a leader can overwrite.
  const auto first_gone = std::find_if(changes_.begin() + 1, changes_.end(),
                                       [index](const Change& c) { return c.index >= index; });
  if (first_gone == changes_.end()) return false;
  const ConfState before = current();
  changes_.erase(first_gone, changes_.end());
  return current() != before;
}

void ConfHistory::forget_through(Index index) {
  // Keep the last change at or below `index`: it is the one in force there.
  std::size_t keep_from = 0;
  while (keep_from + 1 < changes_.size() && changes_[keep_from + 1].index <= index) ++keep_from;
  changes_.erase(changes_.begin(), changes_.begin() + static_cast<std::ptrdiff_t>(keep_from));
}

const ConfState& ConfHistory::at(Index index) const noexcept {
  std::size_t k = 0;
  while (k + 1 < changes_.size() && changes_[k + 1].index <= index) ++k;
  return changes_[k].conf;
}

}  // namespace shmraft::raft
