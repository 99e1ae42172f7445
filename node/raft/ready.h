#pragma once
// Ready: everything the core asks the application to do, handed out by Core::ready() and acknowledged by
// Core::advance(). See core.h for the contract; in short, for one Ready, in this order:
//
//   1. Send `messages` (any time: before, during or after persisting — they are the leader's
//      replication traffic and do not depend on this Ready being durable; dissertation §10.2.1).
//   2. Persist: `snapshot` (if any) first, then `entries` (dropping any stored entries with index >=
//      entries[0].index first), then `hard_state` (if any). Durable per the node's fsync mode.
//   3. Only after step 2 is durable: send `messages_after_persist` (votes, append acknowledgements,
//      candidate vote requests — anything promising the persisted state).
//   4. Apply `snapshot` to the state machine (if any), then `committed_entries` in order; serve
//      `read_states` once applied up to their index.
//   5. Call advance().
//
// Every span here points into memory owned by the core and stays valid until advance().
#include <optional>
#include <span>

#include "node/raft/message.h"
#include "node/raft/types.h"

namespace shmraft::raft {

struct Ready {
  std::optional<SoftState> soft_state;  // set when role or leader changed since the last Ready
  std::optional<HardState> hard_state;  // set when term, vote or commit changed
  std::optional<Snapshot> snapshot;     // a snapshot received from the leader, to persist and restore
  std::span<const Entry> entries;       // to append to the log (may overwrite a conflicting suffix)
  std::span<const Message> messages;    // may leave before persisting
  std::span<const Message> messages_after_persist;  // must leave only after persisting this Ready
  std::span<const Entry> committed_entries;         // to apply in order; all already persisted
  std::span<const ReadState> read_states;

  // True when step 2 has anything to make durable (hard state, entries or snapshot).
  bool must_persist() const noexcept { return hard_state || snapshot || !entries.empty(); }
};

}  // namespace shmraft::raft
