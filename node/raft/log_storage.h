#pragma once
// The read-only view of persisted Raft state through which the core reads its log.
//
// The application owns the storage and writes it (from Ready: hard state, entries, snapshot); the core
// only reads. A node implements this over its memory-mapped log, the simulator and tests over memory
// (MemoryStorage). Layout of indexes:
//
//     ... compacted ... | first_index()-1 (term still known) | first_index() ... last_index()
//
// last_index() == first_index() - 1 when no entries are held.
#include <cstddef>
#include <optional>
#include <vector>

#include "node/raft/types.h"

namespace shmraft::raft {

class LogStorage {
 public:
  virtual ~LogStorage() = default;

  // Persisted hard state, read once when a Core is constructed (restart).
  virtual HardState hard_state() const = 0;

  virtual Index first_index() const = 0;
  virtual Index last_index() const = 0;

  // Term of entry `i` for first_index()-1 <= i <= last_index(); nullopt outside that range.
  virtual std::optional<Term> term(Index i) const = 0;

  // Appends entries [lo, hi) to `out`, where first_index() <= lo < hi <= last_index()+1. Stops once the
  // payload bytes appended exceed max_bytes, but always appends at least one entry. The entries' data
  // spans must stay valid until this storage is next modified (the core copies what it keeps).
  virtual void entries(Index lo, Index hi, std::size_t max_bytes, std::vector<Entry>& out) const = 0;

  // The latest snapshot (metadata + state machine bytes), sent to followers whose next entry was
  // compacted. Must satisfy snapshot().meta.index >= first_index() - 1 whenever entries were compacted.
  // {{0,0},{}} when there is none. The data span must stay valid until this storage is next modified.
  virtual Snapshot snapshot() const = 0;
};

}  // namespace shmraft::raft
