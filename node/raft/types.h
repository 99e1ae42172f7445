#pragma once
// Basic value types of the Raft core: ids, indexes, terms, log entries, persistent and volatile state.
#include <cstddef>
#include <cstdint>
#include <span>

#include "node/raft/conf_state.h"

namespace shmraft::raft {

// Node ids are small positive integers, 1..Config::max_nodes (at most kMaxNodeId); 0 means "none" (no
// leader, no vote).
using NodeId = std::uint32_t;
using Term = std::uint64_t;
using Index = std::uint64_t;

inline constexpr NodeId kNoNode = 0;

using Bytes = std::span<const std::byte>;

enum class EntryType : std::uint8_t {
  kNormal = 0,  // an application command; `data` is opaque to the core
  kNoop = 1,    // appended by a new leader to commit its term (§5.4.2, §8); applications skip it
  // A membership change (conf_change.h): the core acts on it as soon as it is in the log (dissertation
  // §4.1); it is replicated, committed and handed out like any entry, and applications skip it.
  kConfChange = 2,
};
// Decoders and storage refuse a type byte above this rather than hand out a kind nobody handles.
inline constexpr EntryType kLastEntryType = EntryType::kConfChange;

// A log entry as a view: `data` points into memory owned elsewhere (the core's per-Ready arena, a
// storage's log, or a received message buffer). Who owns it, and for how long, is documented wherever an
// Entry is handed out.
struct Entry {
  Term term = 0;
  Index index = 0;
  EntryType type = EntryType::kNormal;
  Bytes data;
};

// Raft's persistent state (Figure 2), minus the log. Must be durable before any message in
// Ready::messages_after_persist leaves the node.
struct HardState {
  Term term = 0;
  NodeId vote = kNoNode;
  Index commit = 0;
  // Non-zero while this node is not repaired after losing durable state (Config::state_lost): the
  // incarnation of the start that found it lost. Persisted so that a restart stays lost (see core.h).
  std::uint64_t lost = 0;
  friend bool operator==(const HardState&, const HardState&) = default;
};

enum class Role : std::uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
const char* to_string(Role role) noexcept;

// Volatile state worth reporting (status counters, client leader hints); never persisted.
struct SoftState {
  Role role = Role::kFollower;
  NodeId leader = kNoNode;
  friend bool operator==(const SoftState&, const SoftState&) = default;
};

// What a snapshot covers: every entry up to and including `index`, whose term was `term`, and the
// configuration in force there (empty: none recorded — the bootstrap Config::voters then).
struct SnapshotMeta {
  SnapshotMeta() = default;
  // (A constructor rather than an aggregate: {index, term} stays valid where no configuration is known.)
  SnapshotMeta(Index index_, Term term_, const ConfState& conf_state_ = {})
      : index(index_), term(term_), conf_state(conf_state_) {}
  Index index = 0;
  Term term = 0;
  ConfState conf_state;
  friend bool operator==(const SnapshotMeta&, const SnapshotMeta&) = default;
};

// A snapshot as a view: metadata plus the application's serialized state machine.
struct Snapshot {
  SnapshotMeta meta;
  Bytes data;
};

// The answer to read_index(context): once the application has applied up to `index`, it may serve the
// read identified by `context` linearizably.
struct ReadState {
  Index index = 0;
  std::uint64_t context = 0;
};

}  // namespace shmraft::raft
