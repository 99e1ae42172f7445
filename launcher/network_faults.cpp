#include "launcher/network_faults.h"

namespace shmraft::launcher {

uint32_t partition(ipc::Segment& segment, const std::set<uint32_t>& group, const ipc::FaultSettings& fault) {
  uint32_t cut = 0;
  const uint32_t n = segment.node_count();
  for (uint32_t from = 1; from <= n; ++from) {
    for (uint32_t to = 1; to <= n; ++to) {
      if (from == to) continue;
      if (group.contains(from) != group.contains(to)) {
        segment.link_fault(from, to).set(fault);
        ++cut;
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
  const uint32_t n = segment.node_count();
  for (uint32_t from = 1; from <= n; ++from) {
    for (uint32_t to = 1; to <= n; ++to) {
      if (from != to) segment.link_fault(from, to).set(fault);
    }
  }
}

}  // namespace shmraft::launcher
