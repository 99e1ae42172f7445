#pragma once
// A membership change (dissertation §4.1: one server at a time) and its encoding as the payload of an
// EntryType::kConfChange log entry.
//
// Payload (14 bytes): u8 version (kConfChangeVersion) | u8 ConfChangeType | u32 node id | u64 repair
// incarnation (little-endian). Version 1 (6 bytes, no repair incarnation) is still read: logs written
// before the repair mark hold it. Bounded and versioned: decode_conf_change refuses any other size,
// version, type or id, and a repair mark on a change that cannot carry one, with an error that names it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "node/raft/conf_state.h"
#include "node/raft/types.h"

namespace shmraft::raft {

enum class ConfChangeType : std::uint8_t {
  kAddVoter = 1,        // a new node joins as a voter (prefer kAddLearner, then kPromoteLearner)
  kAddLearner = 2,      // a new node joins as a learner: it receives the log but never votes or counts
  kPromoteLearner = 3,  // a learner becomes a voter
  kRemoveNode = 4,      // a voter or a learner leaves
};
const char* to_string(ConfChangeType type) noexcept;

struct ConfChange {
  ConfChangeType type = ConfChangeType::kAddLearner;
  NodeId node = kNoNode;
  // Non-zero: a step of the repair of `node`, which lost the state of this start (HardState::lost; with
  // kRepairAsLearner set if it returns as a learner) — a kRemoveNode or kAddLearner made by a leader,
  // never by an operator (core.h, "Lost state"). The configuration then marks `node` as repairing
  // (ConfState::repairing); any other change of `node` (its promotion, an operator's removal, the
  // unmarked kAddLearner that ends a learner's repair) clears the mark.
  std::uint64_t repair_incarnation = 0;
  friend bool operator==(const ConfChange&, const ConfChange&) = default;
};

inline constexpr std::uint8_t kConfChangeVersion = 2;
inline constexpr std::size_t kConfChangeBytes = 14;
inline constexpr std::size_t kConfChangeV1Bytes = 6;

std::array<std::byte, kConfChangeBytes> encode_conf_change(const ConfChange& change) noexcept;

struct DecodedConfChange {
  ConfChange change;
  std::string error;  // empty on success, else what is wrong with the payload
  explicit operator bool() const noexcept { return error.empty(); }
};
DecodedConfChange decode_conf_change(Bytes payload);

// Why a change cannot apply to a configuration.
enum class ConfChangeRefusal : std::uint8_t {
  kNone = 0,
  kBadNodeId,        // 0 or above the largest id the configuration may hold
  kAlreadyMember,    // adding an id that is a voter or learner already (but a learner may be re-added for
                     // a repair: marked, or unmarked to end its repair)
  kNotLearner,       // promoting an id that is not a learner
  kNotMember,        // removing an id that is neither
  kRemovesLastVoter  // the configuration would have no voter left
};
const char* to_string(ConfChangeRefusal refusal) noexcept;

// Whether `change` applies to `conf` with ids up to `max_node_id`; kNone if it does.
ConfChangeRefusal check_conf_change(const ConfState& conf, const ConfChange& change,
                                    std::uint32_t max_node_id) noexcept;
// `conf` with `change` applied; the change must have passed check_conf_change.
ConfState apply_conf_change(ConfState conf, const ConfChange& change) noexcept;

}  // namespace shmraft::raft
