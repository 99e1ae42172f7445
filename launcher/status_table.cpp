#include "launcher/status_table.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <iterator>
#include <tuple>

#include "launcher/child_process.h"
#include "launcher/live_cluster.h"
#include "node/process/node_counters.h"
#include "node/raft/conf_state.h"

namespace shmraft::launcher {

std::vector<uint32_t> nodes_in_use(const ipc::Segment& segment) {
  std::vector<uint32_t> nodes;
  for (uint32_t node = 1; node <= segment.max_nodes(); ++node) {
    if (node <= segment.node_count() || segment.node_counters(node).snapshot().pid != 0)
      nodes.push_back(node);
  }
  return nodes;
}

std::vector<NodeStatus> read_status(ipc::Segment& segment) {
  const std::vector<uint32_t> in_use = nodes_in_use(segment);
  std::vector<NodeStatus> nodes;
  for (const uint32_t node : in_use) {
    NodeStatus status;
    status.node = node;
    status.counters = segment.node_counters(node).snapshot();
    status.pid = static_cast<pid_t>(status.counters.pid);
    status.alive = process_exists(status.pid) && is_node_process(status.pid, segment.cluster(), node);
    for (const uint32_t peer : in_use) {  // the links `partition` and chaos set, to every slot in use
      if (peer == node) continue;
      const ipc::FaultSettings fault = segment.link_fault(node, peer).get();
      if (!fault.connected || fault.drop_rate >= 1.0) {
        ++status.links.cut;
      } else if (fault.drop_rate > 0.0 || fault.delay.count() > 0) {
        ++status.links.degraded;
      }
    }
    nodes.push_back(status);
  }
  if (const std::optional<raft::NodeSet> members = cluster_members(nodes)) {
    for (NodeStatus& status : nodes)
      status.member = members->contains(status.node) || status.counters.lost != 0;
  }
  return nodes;
}

std::optional<raft::NodeSet> cluster_members(const std::vector<NodeStatus>& nodes) {
  const auto rank = [](const NodeStatus& s) {
    return std::tuple(is_leader(s), s.alive, is_leader(s) ? s.counters.term : 0, s.counters.commit_index);
  };
  const NodeStatus* holder = nullptr;
  for (const NodeStatus& s : nodes) {
    if (s.pid == 0 || s.counters.voters == 0) continue;  // never ran here, or published no configuration
    if (holder == nullptr || rank(s) > rank(*holder)) holder = &s;
  }
  if (holder == nullptr) return std::nullopt;
  return raft::NodeSet::from_bits(holder->counters.voters | holder->counters.learners);
}

std::string LinkSummary::describe() const {
  if (cut == 0 && degraded == 0) return "ok";
  if (degraded == 0) return fmt::format("cut:{}", cut);
  if (cut == 0) return fmt::format("deg:{}", degraded);
  return fmt::format("c{}d{}", cut, degraded);
}

std::string role_name(const NodeStatus& status) {
  if (!status.alive) return status.member ? "down" : "removed";
  return std::string(node::role_name(status.counters.role));
}

bool is_leader(const NodeStatus& status) {
  return status.alive && status.counters.role == node::kRoleLeader;
}

namespace {

// The `leader` counter holds the leader's node id, 0 when none is known.
std::string leader_column(const NodeStatus& status) {
  const uint64_t leader = status.counters.leader;
  return leader != 0 && status.alive ? std::to_string(leader) : "-";
}

// The role column of the table: a follower's place in the configuration it holds shows instead, when
// that is not a voter's: "lost" (awaiting repair, it votes on nothing) or "learner".
std::string role_column(const NodeStatus& status) {
  const auto& c = status.counters;
  if (!status.alive || c.role != node::kRoleFollower) return role_name(status);
  if (c.lost != 0) return "lost";
  if (raft::NodeSet::from_bits(c.learners).contains(status.node)) return "learner";
  return role_name(status);
}

nlohmann::json node_ids(uint64_t bits) {
  return raft::NodeSet::from_bits(bits).ids();
}

}  // namespace

std::string render_status_table(const std::vector<NodeStatus>& nodes, TableWidth width) {
  // Narrow: 78 columns while indexes stay below a billion.
  constexpr const char* kNarrow = "{:>4} {:>7} {:<13} {:>5} {:>3} {:>9} {:>9} {:>9} {:>5} {:>5}";
  constexpr const char* kWide = " {:>12} {:>12} {:>8} {:>9} {:>10} {:>10} {:>5} {:>7}";
  const bool wide = width == TableWidth::wide;
  std::string out =
      fmt::format(kNarrow, "node", "pid", "role", "term", "ldr", "commit", "applied", "last", "links", "bad");
  if (wide)
    out += fmt::format(kWide, "frames in", "frames out", "drops", "elections", "syncs", "sleeps", "votes",
                       "repairs");
  out += "\n";
  for (const NodeStatus& s : nodes) {
    const auto& c = s.counters;
    out += fmt::format(kNarrow, s.node, s.pid == 0 ? std::string("-") : std::to_string(s.pid), role_column(s),
                       c.term, leader_column(s), c.commit_index, c.applied_index, c.last_index,
                       s.links.describe(), c.bad_frames);
    if (wide) {
      out += fmt::format(kWide, c.frames_in, c.frames_out, c.drops, c.elections, c.syncs, c.sleeps,
                         c.votes_granted, c.repairs);
    }
    out += "\n";
  }
  return out;
}

nlohmann::json status_json(const std::vector<NodeStatus>& nodes) {
  nlohmann::json array = nlohmann::json::array();
  for (const NodeStatus& s : nodes) {
    const auto& c = s.counters;
    array.push_back({{"node", s.node},
                     {"pid", s.pid},
                     {"alive", s.alive},
                     {"member", s.member},
                     {"role", role_name(s)},
                     {"term", c.term},
                     {"leader", c.leader != 0 ? nlohmann::json(c.leader) : nlohmann::json(nullptr)},
                     {"commit", c.commit_index},
                     {"applied", c.applied_index},
                     {"last_index", c.last_index},
                     {"frames_in", c.frames_in},
                     {"frames_out", c.frames_out},
                     {"drops", c.drops},
                     {"bad_frames", c.bad_frames},
                     {"elections", c.elections},
                     {"syncs", c.syncs},
                     {"sleeps", c.sleeps},
                     {"deaths_seen", c.deaths_seen},
                     {"death_elections", c.death_elections},
                     {"stalls_seen", c.stalls_seen},
                     {"stall_elections", c.stall_elections},
                     {"incarnation", c.incarnation},
                     {"progress_resets", c.progress_resets},
                     {"hard_state_slots_skipped", c.hard_state_slots_skipped},
                     {"lost", c.lost},
                     {"repairs", c.repairs},
                     {"votes_granted", c.votes_granted},
                     {"voters", node_ids(c.voters)},
                     {"learners", node_ids(c.learners)},
                     {"links_cut", s.links.cut},
                     {"links_degraded", s.links.degraded}});
  }
  return array;
}

std::optional<MajorityLost> majority_lost(const std::vector<NodeStatus>& nodes) {
  const NodeStatus* holder = nullptr;  // whose configuration counts
  for (const NodeStatus& s : nodes) {
    if (s.pid == 0 || s.counters.voters == 0) continue;
    const bool better = holder == nullptr || (holder->counters.lost != 0 && s.counters.lost == 0) ||
                        ((holder->counters.lost == 0) == (s.counters.lost == 0) &&
                         s.counters.commit_index > holder->counters.commit_index);
    if (better) holder = &s;
  }
  if (holder == nullptr) return std::nullopt;
  MajorityLost result;
  result.voters = raft::NodeSet::from_bits(holder->counters.voters).ids();
  for (const NodeStatus& s : nodes) {
    if (s.pid != 0 && s.counters.lost != 0 &&
        raft::NodeSet::from_bits(holder->counters.voters).contains(s.node))
      result.lost.push_back(s.node);
  }
  if (result.lost.size() < result.voters.size() / 2 + 1) return std::nullopt;
  return result;
}

std::string MajorityLost::describe(const std::string& cluster) const {
  std::vector<uint32_t> kept;
  std::set_difference(voters.begin(), voters.end(), lost.begin(), lost.end(), std::back_inserter(kept));
  return fmt::format(
      "cluster '{}' cannot serve: a majority of its voters lost their state (nodes {} of voters {}). A lost "
      "node votes on nothing until a leader repairs it, and no leader can be elected without a majority "
      "that kept its state, so writes and reads fail until the lost nodes are restored from a copy of "
      "their data directories; what only they held may be gone. {}",
      cluster, fmt::join(lost, ", "), fmt::join(voters, ", "),
      kept.empty()       ? std::string("No voter kept its state.")
      : kept.size() == 1 ? fmt::format("Node {} kept its state: do not remove it.", kept.front())
                         : fmt::format("Nodes {} kept theirs: do not remove them.", fmt::join(kept, ", ")));
}

std::optional<LeaderInfo> current_leader(ipc::Segment& segment) {
  std::optional<LeaderInfo> best;
  for (const NodeStatus& s : read_status(segment)) {
    if (!is_leader(s)) continue;
    if (!best || s.counters.term > best->term) best = LeaderInfo{s.node, s.counters.term};
  }
  return best;
}

}  // namespace shmraft::launcher
