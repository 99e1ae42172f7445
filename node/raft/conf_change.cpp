#include "node/raft/conf_change.h"

namespace shmraft::raft {

const char* to_string(ConfChangeType type) noexcept {
  switch (type) {
    case ConfChangeType::kAddVoter:
      return "add voter";
    case ConfChangeType::kAddLearner:
      return "add learner";
    case ConfChangeType::kPromoteLearner:
      return "promote learner";
    case ConfChangeType::kRemoveNode:
      return "remove node";
  }
  return "?";
}

const char* to_string(ConfChangeRefusal refusal) noexcept {
  switch (refusal) {
    case ConfChangeRefusal::kNone:
      return "none";
    case ConfChangeRefusal::kBadNodeId:
      return "node id out of range";
    case ConfChangeRefusal::kAlreadyMember:
      return "node is a member already";
    case ConfChangeRefusal::kNotLearner:
      return "node is not a learner";
    case ConfChangeRefusal::kNotMember:
      return "node is not a member";
    case ConfChangeRefusal::kRemovesLastVoter:
      return "would remove the last voter";
  }
  return "?";
}

std::array<std::byte, kConfChangeBytes> encode_conf_change(const ConfChange& change) noexcept {
  std::array<std::byte, kConfChangeBytes> out{};
  out[0] = std::byte{kConfChangeVersion};
  out[1] = static_cast<std::byte>(change.type);
  for (int k = 0; k < 4; ++k) out[2 + k] = static_cast<std::byte>((change.node >> (8 * k)) & 0xFFu);
  for (int k = 0; k < 8; ++k)
    out[6 + k] = static_cast<std::byte>((change.repair_incarnation >> (8 * k)) & 0xFFu);
  return out;
}

DecodedConfChange decode_conf_change(Bytes payload) {
  const auto version = payload.empty() ? std::uint8_t{0} : static_cast<std::uint8_t>(payload[0]);
  if (version != 1 && version != kConfChangeVersion) {
    return {{},
            "configuration change of unknown version " + std::to_string(version) +
                " (this build reads 1 to " + std::to_string(kConfChangeVersion) + ")"};
  }
  const std::size_t expected = version == 1 ? kConfChangeV1Bytes : kConfChangeBytes;
  if (payload.size() != expected) {
    return {{},
            "configuration change payload of " + std::to_string(payload.size()) + " bytes (version " +
                std::to_string(version) + " has " + std::to_string(expected) + ")"};
  }
  const auto type = static_cast<std::uint8_t>(payload[1]);
  if (type < static_cast<std::uint8_t>(ConfChangeType::kAddVoter) ||
      type > static_cast<std::uint8_t>(ConfChangeType::kRemoveNode)) {
    return {{}, "configuration change of unknown type " + std::to_string(type)};
  }
  NodeId node = 0;
  for (int k = 0; k < 4; ++k)
    node |= static_cast<NodeId>(static_cast<std::uint8_t>(payload[2 + k])) << (8 * k);
  if (node == kNoNode || node > kMaxNodeId) {
    return {{},
            "configuration change names node " + std::to_string(node) + " (ids are 1.." +
                std::to_string(kMaxNodeId) + ")"};
  }
  std::uint64_t repair_incarnation = 0;
  for (std::size_t k = 6; k < payload.size(); ++k)
    repair_incarnation |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(payload[k])) << (8 * (k - 6));
  const auto change_type = static_cast<ConfChangeType>(type);
  if (repair_incarnation != 0 && change_type != ConfChangeType::kRemoveNode &&
      change_type != ConfChangeType::kAddLearner) {
    return {{}, std::string("configuration change ") + to_string(change_type) + " carries a repair mark"};
  }
  return {{change_type, node, repair_incarnation}, {}};
}

ConfChangeRefusal check_conf_change(const ConfState& conf, const ConfChange& change,
                                    std::uint32_t max_node_id) noexcept {
  if (change.node == kNoNode || change.node > max_node_id || change.node > kMaxNodeId)
    return ConfChangeRefusal::kBadNodeId;
  switch (change.type) {
    case ConfChangeType::kAddLearner:
      // A repair of a lost learner marks it where it is, and an unmarked re-add ends that repair.
      if (conf.learners.contains(change.node) &&
          (change.repair_incarnation != 0 || conf.repairing == change.node))
        return ConfChangeRefusal::kNone;
      [[fallthrough]];
    case ConfChangeType::kAddVoter:
      return conf.is_member(change.node) ? ConfChangeRefusal::kAlreadyMember : ConfChangeRefusal::kNone;
    case ConfChangeType::kPromoteLearner:
      return conf.learners.contains(change.node) ? ConfChangeRefusal::kNone : ConfChangeRefusal::kNotLearner;
    case ConfChangeType::kRemoveNode:
      if (!conf.is_member(change.node)) return ConfChangeRefusal::kNotMember;
      if (conf.voters.contains(change.node) && conf.voters.size() == 1)
        return ConfChangeRefusal::kRemovesLastVoter;
      return ConfChangeRefusal::kNone;
  }
  return ConfChangeRefusal::kBadNodeId;
}

ConfState apply_conf_change(ConfState conf, const ConfChange& change) noexcept {
  switch (change.type) {
    case ConfChangeType::kAddVoter:
      conf.voters.insert(change.node);
      break;
    case ConfChangeType::kAddLearner:
      conf.learners.insert(change.node);
      break;
    case ConfChangeType::kPromoteLearner:
      conf.learners.erase(change.node);
      conf.voters.insert(change.node);
      break;
    case ConfChangeType::kRemoveNode:
      conf.voters.erase(change.node);
      conf.learners.erase(change.node);
      break;
  }
  if (change.repair_incarnation != 0) {
    conf.repairing = change.node;
    conf.repair_incarnation = change.repair_incarnation;
  } else if (conf.repairing == change.node) {
    conf.repairing = kNoNode;
    conf.repair_incarnation = 0;
  }
  return conf;
}

}  // namespace shmraft::raft
