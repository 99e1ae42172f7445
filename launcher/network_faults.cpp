#include "launcher/network_faults.h"

namespace shmraft::launcher {

namespace {

// An initial voter, or a node that joined later and so claimed its liveness cells once (as
// LiveCluster::check_node decides).
bool has_run(const ipc::Segment& segment, uint32_t node) {
  return node <= segment.node_count() || segment.peer_alive(node).incarnation != 0;
}

}  // namespace

// Every node slot, not only the initial voters: a node added later (`shmraft member add`) has its links
// in the segment too, and a partition must cut them.
uint32_t partition(ipc::Segment& segment, const std::set<uint32_t>& group, const ipc::FaultSettings& fault) {
  uint32_t cut = 0;
  const uint32_t n = segment.max_nodes();
  for (uint32_t from = 1; from <= n; ++from) {
    for (uint32_t to = 1; to <= n; ++to) {
      if (from == to) continue;
      if (group.contains(from) != group.contains(to)) {
        segment.link_fault(from, to).set(fault);
        if (has_run(segment, from) && has_run(segment, to)) ++cut;  // links that carried traffic
      } else {
        segment.link_fault(from, to).heal();
      }
    }
  }
  return cut;
}

void heal_all(ipc::Segment& segment) {
  degrade_all(segment, ipc::FaultSettings{});
}

void degrade_all(ipc::Segment& segment, const ipc::FaultSettings& fault) {
  const uint32_t n = segment.max_nodes();
  for (uint32_t from = 1; from <= n; ++from) {
    for (uint32_t to = 1; to <= n; ++to) {
      if (from != to) segment.link_fault(from, to).set(fault);
    }
  }
}

}  // namespace shmraft::launcher
