#pragma once
// What a node's directory says about the node at start: did it never hold state, does it hold what it
// held, or did it lose what an earlier start of the same node persisted (a wiped directory)? A node that
// lost its state may have voted and acknowledged with it, so it must start in the Raft core's lost mode
// (raft::Config::state_lost; node/raft/core.h, "Lost state").
//
// Decidable only with a witness that outlives the directory: the incarnation the previous start of this
// node id published (in the cluster's shared segment). A directory this open had to create (no hard-state
// file) with no previous start is a fresh member; the same with one is lost. A directory an earlier start
// created and never wrote to is intact: that start promised nothing (votes and acknowledgements leave
// only after a persist). The segment is recreated by every `shmraft up`, so `up` of a cluster that ran
// before writes the witness anew for every member of the configuration its logs hold (they all ran
// before); a wiped directory of a node started by hand on a recreated segment cannot be told from a
// fresh one.
//
// A node is lost too when the open cut its log back to the verified prefix before damage (it may have
// acknowledged what followed; RecoveryReport::log_damage, the mark already stored), when a damaged
// hard-state slot was skipped — the slot may have held the newest term
// and vote, and the other one is older, so a vote granted with it could be a second vote in a term — and
// when its damaged files were set aside (set_aside.h) and the fresh storage saved no term since: the set-
// aside directory is the witness that outlives the loss, whatever the segment says.
#include <cstdint>
#include <string>

#include "node/storage/node_storage.h"

namespace shmraft::storage {

enum class StoredState : std::uint8_t {
  kFresh,   // created by this open, and no earlier start of this node is known: a new member
  kIntact,  // the directory was there, with no lost mark and no damaged hard-state slot
  kLost,    // created by this open although an earlier start ran, the log was cut back after damage, a
            // damaged hard-state slot was skipped, damaged files were set aside, or a lost mark is not
            // yet cleared
};
const char* to_string(StoredState state) noexcept;

struct Detection {
  StoredState state = StoredState::kIntact;
  std::string why;  // for kLost: what was lost, for the node's log
};

// `previous_incarnation`: the incarnation an earlier start of this node published, 0 if none ever did;
// `incarnation`: this start's. On kLost for a new loss (a wiped directory, a skipped hard-state slot),
// stores the lost mark (HardState::lost = incarnation) durably before returning, so that a crash before
// the core's first persist cannot pass the next start off as intact. (For a damaged slot the open itself
// can store the mark, closing even the window before this call: Options::lost_mark_on_damage,
// which open_or_set_aside sets.)
Detection detect_stored_state(NodeStorage& storage, std::uint64_t previous_incarnation,
                              std::uint64_t incarnation);

}  // namespace shmraft::storage
