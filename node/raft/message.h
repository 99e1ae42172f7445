#pragma once
// Every message the Raft core sends or receives. (The client envelope is the node's:
// node/process/client_wire.h.)
//
// Messages are plain views: spans (entries, snapshot data, payloads) point into memory owned by whoever
// produced the message — the core's per-Ready arena for outgoing messages (valid until advance()), or the
// receive buffer and DecodeScratch for decoded ones (valid while those are). Node ids are 1..N.
#include <cstdint>
#include <span>
#include <variant>

#include "node/raft/types.h"

namespace shmraft::raft {

// RequestVote (Figure 2) and PreVote (dissertation §9.6). A pre-vote carries the term the sender *would*
// campaign in (its term + 1) without having raised its own term.
struct VoteRequest {
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;
  Index last_log_index = 0;
  Term last_log_term = 0;
  bool pre_vote = false;
  // Set when campaigning because of TimeoutNow: voters then ignore their leader lease (CheckQuorum).
  bool leader_transfer = false;
};

struct VoteResponse {
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;  // for a pre-vote grant: the request's term, so the candidate can match it
  bool pre_vote = false;
  bool granted = false;
  // Where the voter's log ends: a new leader replicates to it from there rather than from its own end,
  // which a voter that lagged (the old leader committed without it) refuses a round trip later.
  Index last_log_index = 0;
  Term last_log_term = 0;
};

// AppendEntries (Figure 2). `entries` are consecutive: entries[i].index == prev_log_index + 1 + i.
struct AppendEntries {
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;
  Index prev_log_index = 0;
  Term prev_log_term = 0;
  Index leader_commit = 0;
  std::span<const Entry> entries;
};

struct AppendResponse {
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;
  bool success = false;
  // success: the last index the follower now holds that matches the leader (prev_log_index + #entries).
  Index match_index = 0;
  // failure: the prev_log_index that was rejected (lets the leader drop stale rejections), and the hint
  // for fast backtracking (§5.3 "optimization"): if the follower's log is too short, conflict_term == 0
  // and conflict_index == its last index + 1; otherwise conflict_term is the term it holds at
  // reject_index and conflict_index the first index it holds with that term.
  Index reject_index = 0;
  Index conflict_index = 0;
  Term conflict_term = 0;
  std::uint64_t incarnation = 0;  // the sender's Config::incarnation (so on every response to a leader)
  std::uint64_t lost = 0;         // the sender's HardState::lost: non-zero until it is repaired
};

// Leader liveness + commit propagation; `context` != 0 marks a ReadIndex confirmation round.
struct Heartbeat {
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;
  Index commit = 0;  // min(leader commit, follower match): never beyond what the follower is known to hold
  std::uint64_t context = 0;
};

struct HeartbeatResponse {
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;
  std::uint64_t context = 0;
  std::uint64_t incarnation = 0;
  std::uint64_t lost = 0;
  // Not sent: false when the answer asks nothing of the leader but to note that we are alive (no read
  // round; all we hold is committed and known to the leader; this incarnation has answered this term
  // before). The node then publishes it without waking the leader, which reads it when it next wakes, for
  // its next heartbeat at the latest: an idle leader wakes once per heartbeat, not once per follower more.
  bool urgent = true;
};

// InstallSnapshot (§7), sent whole (no chunking): the entries the follower needs were compacted away.
struct InstallSnapshot {
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;
  SnapshotMeta meta;
  Bytes data;
};

struct InstallSnapshotResponse {
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;
  Index match_index = 0;  // the follower's last index after handling the snapshot
  std::uint64_t incarnation = 0;
  std::uint64_t lost = 0;
};

// Leadership transfer (dissertation §3.10): "start an election now, ignoring your timer and lease".
struct TimeoutNow {
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;
};

// Everything Core::step accepts and Ready carries.
using Message = std::variant<VoteRequest, VoteResponse, AppendEntries, AppendResponse, Heartbeat,
                             HeartbeatResponse, InstallSnapshot, InstallSnapshotResponse, TimeoutNow>;

// Common header fields of any Message.
NodeId message_from(const Message& m) noexcept;
NodeId message_to(const Message& m) noexcept;
Term message_term(const Message& m) noexcept;
// Whether the receiver should be woken for it (HeartbeatResponse::urgent; every other message is).
bool wakes_receiver(const Message& m) noexcept;

}  // namespace shmraft::raft
