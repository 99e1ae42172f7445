#pragma once
// The launcher's side of the fault words (ipc/fault.h): whole-network settings in one call, used by
// `shmraft partition/heal` and by chaos' nemesis.
#include <cstdint>
#include <set>

#include "ipc/fault.h"
#include "ipc/segment.h"

namespace shmraft::launcher {

// Sets `fault` on every link, both directions, between a node in `group` and a node outside it, and
// heals every other link. Returns the number of directed links set.
uint32_t partition(ipc::Segment& segment, const std::set<uint32_t>& group, const ipc::FaultSettings& fault);

// Every link healthy.
void heal_all(ipc::Segment& segment);

// Sets `fault` on every directed link of the cluster (e.g. a uniform drop rate).
void degrade_all(ipc::Segment& segment, const ipc::FaultSettings& fault);

}  // namespace shmraft::launcher
