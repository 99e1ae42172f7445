#pragma once
// --nodes, --max-nodes, --client-slots, --peer-ring, --client-ring: the shape of a new cluster's segment.
#include <CLI/CLI.hpp>

#include "ipc/layout.h"

namespace shmraft::launcher {

void add_segment_options(CLI::App& app, ipc::SegmentConfig& config);

}  // namespace shmraft::launcher
