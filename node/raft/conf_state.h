#pragma once
// Who is in the cluster: the voters and the learners (dissertation §4.1, one server at a time; §4.2.1
// non-voting members). Node ids are 1..kMaxNodeId, so a set of them is one 64-bit word: a ConfState is
// four words (with the repair mark), copied, compared and encoded without allocating, which lets it ride in
// SnapshotMeta and in the InstallSnapshot message. A node is never both a voter and a learner.
#include <bit>
#include <cstdint>
#include <vector>

namespace shmraft::raft {

// The largest node id a configuration can hold (Config::max_nodes may not exceed it).
inline constexpr std::uint32_t kMaxNodeId = 63;

// The top bit of a repair incarnation (ConfState::repair_incarnation): the node lost its state as a
// learner and returns as one, where a voter's repair ends in its promotion. Incarnations stay below it
// (Config::incarnation), so the mark still names the lost start; the bit needs no room of its own in the
// encodings that carry a configuration (codec, snapshot files, snapshot chunks).
inline constexpr std::uint64_t kRepairAsLearner = std::uint64_t{1} << 63;

class NodeSet {
 public:
  NodeSet() = default;
  // The set whose bit i is set holds id i; bit 0 (kNoNode) must be clear (see valid()).
  static constexpr NodeSet from_bits(std::uint64_t bits) noexcept { return NodeSet(bits); }
  std::uint64_t bits() const noexcept { return bits_; }
  bool valid() const noexcept { return (bits_ & 1u) == 0; }

  bool contains(std::uint32_t id) const noexcept { return id >= 1 && id <= kMaxNodeId && (bits_ >> id) & 1u; }
  // Ids outside 1..kMaxNodeId are ignored (validated where they enter: check_conf_change, the codec).
  void insert(std::uint32_t id) noexcept {
    if (id >= 1 && id <= kMaxNodeId) bits_ |= std::uint64_t{1} << id;
  }
  void erase(std::uint32_t id) noexcept {
    if (id >= 1 && id <= kMaxNodeId) bits_ &= ~(std::uint64_t{1} << id);
  }
  std::size_t size() const noexcept { return static_cast<std::size_t>(std::popcount(bits_)); }
  bool empty() const noexcept { return bits_ == 0; }
  // The largest id held (0 if empty).
  std::uint32_t max_id() const noexcept {
    return bits_ == 0 ? 0 : 63 - static_cast<std::uint32_t>(std::countl_zero(bits_));
  }
  // The ids, ascending.
  std::vector<std::uint32_t> ids() const;

  friend bool operator==(const NodeSet&, const NodeSet&) = default;

 private:
  explicit constexpr NodeSet(std::uint64_t bits) noexcept : bits_(bits) {}
  std::uint64_t bits_ = 0;
};

struct ConfState {
  NodeSet voters;
  NodeSet learners;
  // The node being repaired after it lost state (core.h, "Lost state"), 0 if none: removed for the
  // repair, then a learner until promoted; `repair_incarnation` is the lost start it repairs. One at a
  // time.
  std::uint32_t repairing = 0;
  std::uint64_t repair_incarnation = 0;
  // The lost start being repaired, and whether the node returns as a learner (kRepairAsLearner).
  std::uint64_t repaired_loss() const noexcept { return repair_incarnation & ~kRepairAsLearner; }
  bool repair_returns_learner() const noexcept { return (repair_incarnation & kRepairAsLearner) != 0; }
  // No voters: the storage holds no configuration yet (a fresh node before its first one).
  bool empty() const noexcept { return voters.empty() && learners.empty(); }
  bool is_member(std::uint32_t id) const noexcept { return voters.contains(id) || learners.contains(id); }
  friend bool operator==(const ConfState&, const ConfState&) = default;
};

}  // namespace shmraft::raft
