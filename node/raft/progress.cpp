#include "node/raft/progress.h"

namespace shmraft::raft {

const char* to_string(ProgressState state) noexcept {
  switch (state) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "?";
}

void Inflights::add(Index last_index) noexcept {
  if (full()) return;  // callers check full() first; never overwrite an unacknowledged slot
  ring_[(start_ + count_) % ring_.size()] = last_index;
  ++count_;
}

void Inflights::free_to(Index index) noexcept {
  while (count_ > 0 && ring_[start_] <= index) {
    start_ = (start_ + 1) % ring_.size();
    --count_;
  }
}

}  // namespace shmraft::raft
