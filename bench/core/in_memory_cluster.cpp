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
    nodes_[id] = std::make_unique<Node>(*this);
    nodes_[id]->core = std::make_unique<raft::Core>(config, nodes_[id]->storage);
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
      Node& node = *nodes_[i];
      any |= node.ready_handler.handle(*node.core, node);
    }
  }
}

void InMemoryCluster::Node::send(const raft::Message& message) {
  cluster->core(raft::message_to(message)).step(message);
}

void InMemoryCluster::Node::apply(std::span<const raft::Entry> entries) {
  for (const raft::Entry& entry : entries) {
    if (entry.type != raft::EntryType::kNormal) continue;
    ++applied_entries;
    if (!entry.data.empty()) payload_checksum += static_cast<std::uint8_t>(entry.data.back());
  }
}

void InMemoryCluster::compact() {
  for (std::size_t i = 1; i < nodes_.size(); ++i) {
    Node& node = *nodes_[i];
    const raft::Index applied = node.core->applied_index();
    if (applied <= node.storage.snapshot().meta.index) continue;
    node.storage.create_snapshot(applied, {});
    node.storage.compact(applied);
  }
}

}  // namespace shmraft::bench
