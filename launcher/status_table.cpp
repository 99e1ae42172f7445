#include "launcher/status_table.h"

#include <fmt/format.h>

#include "launcher/child_process.h"
#include "launcher/live_cluster.h"
#include "node/process/node_counters.h"

namespace shmraft::launcher {

std::vector<NodeStatus> read_status(ipc::Segment& segment) {
  std::vector<NodeStatus> nodes;
  for (uint32_t node = 0; node < segment.node_count(); ++node) {
    NodeStatus status;
    status.node = node;
    status.counters = segment.node_counters(node).snapshot();
    status.pid = static_cast<pid_t>(status.counters.pid);
    status.alive = process_exists(status.pid) && is_node_process(status.pid, segment.cluster(), node);
    nodes.push_back(status);
  }
  return nodes;
}

std::string role_name(const NodeStatus& status) {
  if (!status.alive) return "-";
  return std::string(node::role_name(status.counters.role));
}

bool is_leader(const NodeStatus& status) {
  return status.alive && status.counters.role == node::kRoleLeader;
}

namespace {

std::optional<uint32_t> leader_index(uint64_t counter) {
  const int64_t node = node::leader_node(counter);
  if (node < 0) return std::nullopt;
  return static_cast<uint32_t>(node);
}

std::string leader_column(const NodeStatus& status) {
  const auto leader = leader_index(status.counters.leader);
  return leader && status.alive ? std::to_string(*leader) : "-";
}

}  // namespace

std::string render_status_table(const std::vector<NodeStatus>& nodes) {
  std::string out = fmt::format(
      "{:>4} {:>8} {:>5} {:>13} {:>6} {:>6} {:>10} {:>10} {:>12} {:>12} {:>8} {:>9} {:>10} {:>10}\n", "node",
      "pid", "alive", "role", "term", "leader", "commit", "applied", "frames in", "frames out", "drops",
      "elections", "syncs", "sleeps");
  for (const NodeStatus& s : nodes) {
    const auto& c = s.counters;
    out += fmt::format(
        "{:>4} {:>8} {:>5} {:>13} {:>6} {:>6} {:>10} {:>10} {:>12} {:>12} {:>8} {:>9} {:>10} {:>10}\n",
        s.node, s.pid == 0 ? std::string("-") : std::to_string(s.pid), s.alive ? "yes" : "no", role_name(s),
        c.term, leader_column(s), c.commit_index, c.applied_index, c.frames_in, c.frames_out, c.drops,
        c.elections, c.syncs, c.spare[node::kSleepsCounter]);
  }
  return out;
}

nlohmann::json status_json(const std::vector<NodeStatus>& nodes) {
  nlohmann::json array = nlohmann::json::array();
  for (const NodeStatus& s : nodes) {
    const auto& c = s.counters;
    const auto leader = leader_index(c.leader);
    array.push_back({{"node", s.node},
                     {"pid", s.pid},
                     {"alive", s.alive},
                     {"role", role_name(s)},
                     {"term", c.term},
                     {"leader", leader ? nlohmann::json(*leader) : nlohmann::json(nullptr)},
                     {"commit", c.commit_index},
                     {"applied", c.applied_index},
                     {"last_index", c.last_index},
                     {"frames_in", c.frames_in},
                     {"frames_out", c.frames_out},
                     {"drops", c.drops},
                     {"bad_frames", c.bad_frames},
                     {"elections", c.elections},
                     {"syncs", c.syncs},
                     {"sleeps", c.spare[node::kSleepsCounter]}});
  }
  return array;
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
