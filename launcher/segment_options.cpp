#include "launcher/segment_options.h"

#include <string>

#include "launcher/cli_options.h"

namespace shmraft::launcher {

namespace {

// A ring capacity as ipc accepts it, with ipc's own message when it does not.
CLI::Validator ring_capacity_validator(uint64_t ipc::SegmentConfig::*field) {
  return CLI::Validator(
      [field](std::string& text) -> std::string {
        ipc::SegmentConfig probe;
        try {
          probe.*field = std::stoull(text);
          probe.validate();
        } catch (const std::exception& e) {
          return e.what();
        }
        return {};
      },
      "BYTES");
}

}  // namespace

void add_segment_options(CLI::App& app, ipc::SegmentConfig& config) {
  app.add_option("-n,--nodes", config.node_count, "Initial voters, one node process each (`up` of a cluster that ran before starts the members its logs hold)")
      ->check(in_range(1u, ipc::kMaxNodes))
      ->capture_default_str();
  app.add_option("--max-nodes", config.max_nodes,
                 "Node ids the segment has room for, so nodes can join later (`shmraft member add`); "
                 "at least --nodes [default: " +
                     std::to_string(ipc::kDefaultMaxNodes) + ", or --nodes if more]")
      ->check(in_range(1u, ipc::kMaxNodes));
  app.add_option("--client-slots", config.client_slots, "Client slots in the segment (concurrent clients)")
      ->check(in_range(1u, ipc::kMaxClientSlots))
      ->capture_default_str();
  app.add_option("--peer-ring", config.peer_ring_capacity, "Bytes per node-to-node ring (a power of two)")
      ->check(ring_capacity_validator(&ipc::SegmentConfig::peer_ring_capacity))
      ->capture_default_str();
  app.add_option("--client-ring", config.client_ring_capacity, "Bytes per client ring (a power of two)")
      ->check(ring_capacity_validator(&ipc::SegmentConfig::client_ring_capacity))
      ->capture_default_str();
}

}  // namespace shmraft::launcher
