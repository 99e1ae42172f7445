#include "bench/core/in_memory_cluster.h"

#include <stdexcept>
#include <string>

namespace shmraft::bench {

InMemoryCluster::InMemoryCluster(std::uint32_t nodes, const raft::Config& base) : nodes_(nodes + 1) {
  for (raft::NodeId id = 1; id <= nodes; ++id) {
    raft::Config config = base;
    config.id = id;
    config.voters = raft::voters_numbered_1_to(nodes);
    config.seed = base.seed + id;
    nodes_[id].core = std::make_unique<raft::Core>(config, nodes_[id].storage);
  }
}

void InMemoryCluster::elect(raft::NodeId id) {
  core(id).campaign();
  run_until_quiet();
  if (core(id).role() != raft::Role::kLeader) {
    throw std::runtime_error("InMemoryCluster: node " + std::to_string(id) + " did not win its election");
  }
}

void InMemoryCluster::run_until_quiet() {
  bool any = true;
  while (any) {
    any = false;
    for (std::size_t i = 1; i < nodes_.size(); ++i) {
      if (nodes_[i].core->has_ready()) {
        handle_ready(nodes_[i]);
        any = true;
      }
    }
  }
}

void InMemoryCluster::handle_ready(Node& node) {
  const raft::Ready& ready = node.core->ready();
  // Only one Ready is open at a time, so every destination core is free to step; message spans stay
  // valid until this node's advance().
  for (const raft::Message& message : ready.messages) deliver(message);
  node.storage.persist(ready);
  for (const raft::Message& message : ready.messages_after_persist) deliver(message);
  for (const raft::Entry& entry : ready.committed_entries) {
    if (entry.type != raft::EntryType::kNormal) continue;
    ++node.applied_entries;
    // Touch the payload as a state machine would.
    if (!entry.data.empty()) node.payload_checksum += static_cast<std::uint8_t>(entry.data.back());
  }
  node.core->advance();
}

void InMemoryCluster::deliver(const raft::Message& message) {
  nodes_[raft::message_to(message)].core->step(message);
}

void InMemoryCluster::compact() {
  for (std::size_t i = 1; i < nodes_.size(); ++i) {
    Node& node = nodes_[i];
    const raft::Index applied = node.core->applied_index();
    if (applied <= node.storage.snapshot().meta.index) continue;
    node.storage.create_snapshot(applied, {});
    node.storage.compact(applied);
  }
}

}  // namespace shmraft::bench
