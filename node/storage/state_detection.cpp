#include "node/storage/state_detection.h"

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

StoredState detect_stored_state(NodeStorage& storage, std::uint64_t previous_incarnation,
                                std::uint64_t incarnation) {
  if (storage.hard_state().lost != 0) return StoredState::kLost;
  if (!storage.recovery().created) return StoredState::kIntact;
  if (previous_incarnation == 0) return StoredState::kFresh;
  HardState marked = storage.hard_state();
  marked.lost = incarnation;
  storage.save_hard_state(marked);
  storage.sync();
  return StoredState::kLost;
}

}  // namespace shmraft::storage
