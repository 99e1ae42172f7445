#pragma once
// Client sessions for exactly-once commands (Raft dissertation §6.3): per client id, the last sequence
// number applied and the outcome it had, so a retried command is answered without applying it again.
//
// Expiry is by count, least recently active first, where "active" is measured in log indexes: when a new
// session would make more than `capacity` sessions, the one whose last command has the lowest log index
// goes. Every replica applies the same log with the same capacity, so every replica expires the same
// sessions at the same index — no wall clock involved.
#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

#include "node/kv/result.h"

namespace shmraft::kv {

struct SessionRecord {
  uint64_t client_id = 0;
  uint64_t last_sequence = 0;
  uint64_t last_index = 0;  // log index of the session's most recent command (its LRU position)
  ResultCode last_code = ResultCode::ok;
};

class SessionTable {
 public:
  explicit SessionTable(std::size_t capacity);
  // Copies rebuild the LRU links (a member-wise copy would point into the source's list).
  SessionTable(const SessionTable& other);
  SessionTable& operator=(const SessionTable& other);
  SessionTable(SessionTable&&) noexcept = default;
  SessionTable& operator=(SessionTable&&) noexcept = default;

  enum class Verdict : uint8_t {
    apply,      // new sequence: apply the command, then call record()
    duplicate,  // sequence == last applied: answer with cached_code(), do not apply
    stale,      // sequence < last applied
    expired,    // unknown client and sequence > 1
  };

  // Classifies (client_id, sequence) for a command at log `index`. A duplicate refreshes the session's
  // activity index. `cached` receives the last outcome for a duplicate.
  Verdict check(uint64_t client_id, uint64_t sequence, uint64_t index, ResultCode& cached);

  // Records that (client_id, sequence) was applied at `index` with `code`; creates the session if new,
  // evicting the least recently active one when over capacity.
  void record(uint64_t client_id, uint64_t sequence, uint64_t index, ResultCode code);

  std::size_t size() const noexcept { return sessions_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }

  // Sessions from least to most recently active (ascending last_index): the snapshot order.
  std::vector<SessionRecord> records() const;

  // Replaces the contents; `records` must be in ascending last_index order with distinct client ids.
  // Keeps only the `capacity` most recent if there are more.
  void assign(const std::vector<SessionRecord>& records);

 private:
  struct Entry {
    SessionRecord record;
    std::list<uint64_t>::iterator lru_position;
  };
  void touch(Entry& entry, uint64_t index);
  void evict_over_capacity();

  std::size_t capacity_;
  std::unordered_map<uint64_t, Entry> sessions_;
  std::list<uint64_t> lru_;  // client ids, least recently active first
};

}  // namespace shmraft::kv
