#pragma once
// Configuration of one Raft core. Everything a core does is a function of this, its storage and its
// inputs: the seed is the only source of randomness and ticks the only source of time.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "node/raft/types.h"

namespace shmraft::raft {

// Deliberate protocol bugs, for proving that tests and the simulator catch them. Never set in production.
struct TestingFaults {
  // Figure 8 bug: the leader commits an entry of an earlier term as soon as a majority stores it.
  bool commit_previous_term_by_counting = false;
  // Votes are granted without the §5.4.1 up-to-date check on the candidate's log.
  bool vote_without_log_check = false;
  // A node that lost its state votes and campaigns as if it had not (no lost mode, no repair).
  bool ignore_lost_state = false;
};

struct Config {
  NodeId id = kNoNode;  // this node, 1..max_nodes
  // The cluster's initial configuration, the same on every node (a node that joins later is given it
  // too, and is not in it). Used only when the storage's snapshot records none; the log's kConfChange
  // entries apply on top (conf_change.h). Ids in 1..max_nodes.
  std::vector<NodeId> voters;
  // The largest node id a configuration may hold (at most kMaxNodeId): the room hosts reserve for nodes
  // that join.
  std::uint32_t max_nodes = 7;
  std::uint64_t seed = 0;  // randomized election timeouts; mix in the id for distinct nodes
  // Which start of this node the core is: a number that grows with every start of the node (every new
  // process), whatever happened to its storage — the host takes it from a clock and from what the
  // previous start published (see node.cpp). Every append, heartbeat and snapshot response carries it, so
  // a leader tells a follower that restarted — possibly with less log than it acknowledged before (wiped
  // or damaged storage) — from one that did not, resets its progress, and ignores late messages of an
  // earlier start. Growing, not merely different: a late message of a start the leader never heard of
  // must not pass for the newest one. 0: not tracked (a leader then never notices a restart).
  std::uint64_t incarnation = 0;
  // This start lost durable state it may have acknowledged or voted with (a wiped directory: the host
  // decides, node/storage/state_detection.h). The core then stays lost — durably, through
  // HardState::lost — until repaired: see core.h, "Lost state". Requires a non-zero incarnation.
  bool state_lost = false;

  // A follower campaigns after a random timeout in [election_tick, 2*election_tick) ticks without
  // hearing from a leader; a leader sends heartbeats every heartbeat_tick ticks. election_tick must
  // exceed heartbeat_tick.
  int election_tick = 10;
  int heartbeat_tick = 1;

  bool pre_vote = true;      // dissertation §9.6: don't raise the term unless an election could win
  bool check_quorum = true;  // leader steps down without quorum contact; followers hold a leader lease
  // A new commit index goes to the followers at once, in an empty AppendEntries if nothing else is
  // due (as etcd's raft does). false: it rides on the next AppendEntries or heartbeat instead. No one
  // waits for a follower to learn the commit index (clients are answered by the leader, a new leader
  // commits its own no-op), so that only delays the followers' apply by up to a heartbeat interval,
  // and at low load it spares every follower a second wake-up per entry.
  bool broadcast_commit = true;

  std::size_t max_msg_bytes = 1 << 20;         // payload bytes per AppendEntries (at least one entry)
  std::size_t max_inflight_msgs = 256;         // unacknowledged AppendEntries per follower (replicate)
  std::size_t max_committed_bytes = 64 << 20;  // payload bytes of committed entries per Ready

  // Restart only: the index the application's state machine has already applied (from its snapshot).
  Index applied = 0;

  TestingFaults testing_faults;
};

// Throws std::invalid_argument naming the bad field.
void validate(const Config& config);

// The voters of a cluster numbered 1..count, as every host numbers its nodes today.
std::vector<NodeId> voters_numbered_1_to(std::uint32_t count);

}  // namespace shmraft::raft
