#pragma once
// The launcher's side of the fault words (ipc/fault.h): whole-network settings in one call, used by
// `shmraft partition/heal` and by chaos' nemesis.
#include <cstdint>
#include <set>

#include "ipc/fault.h"
#include "ipc/segment.h"

namespace shmraft::launcher {

// Sets `fault` on every link, both directions, between a node in `group` and a node outside it (every
// node slot of the segment, 1..max_nodes: nodes that join later included), and heals every other link.
// Returns the number of directed links set between nodes that have run (an empty slot's links are set
// too, so a node that joins later is on the far side of the cut, but not counted).
uint32_t partition(ipc::Segment& segment, const std::set<uint32_t>& group, const ipc::FaultSettings& fault);

// Every link healthy.
void heal_all(ipc::Segment& segment);

// Sets `fault` on every directed link between the segment's node slots (e.g. a uniform drop rate).
void degrade_all(ipc::Segment& segment, const ipc::FaultSettings& fault);

}  // namespace shmraft::launcher
