#pragma once
// N Raft cores in one process joined by a zero-cost transport: each Ready's messages are stepped straight
// into their destination core (no encoding, no copy, no queue), and persisting is instant (MemoryStorage
// takes the Ready, then advance()). What remains to measure is the core itself.
#include <cstdint>
#include <memory>
#include <vector>

#include "node/raft/config.h"
#include "node/raft/core.h"
#include "node/raft/memory_storage.h"
#include "node/raft/ready_handler.h"
#include "node/raft/types.h"

namespace shmraft::bench {

class InMemoryCluster {
 public:
  // `base` supplies the protocol settings; id and voters are filled in per node.
  InMemoryCluster(std::uint32_t nodes, const raft::Config& base);

  // Makes `id` leader (campaign, then run to quiescence). Throws std::runtime_error if it did not win.
  void elect(raft::NodeId id);

  raft::Core& core(raft::NodeId id) { return *nodes_[id]->core; }
  // Entries applied by `id`'s state machine so far, and a checksum of their payloads.
  std::uint64_t applied_entries(raft::NodeId id) const { return nodes_[id]->applied_entries; }
  std::uint64_t payload_checksum(raft::NodeId id) const { return nodes_[id]->payload_checksum; }

  // Handles Readys until no core has one: persist, deliver, apply, advance.
  void run_until_quiet();

  // Snapshots every node's storage at its applied index and drops the log up to it, so the log's memory
  // is reused instead of growing (the node process compacts the same way).
  void compact();

 private:
  // The node's side of each Ready: messages are stepped straight into their destination core (only one
  // Ready is open at a time, so every other core is free to step), MemoryStorage takes the Ready, and
  // applying touches each payload as a state machine would.
  struct Node final : raft::ReadyHost {
    explicit Node(InMemoryCluster& cluster) : cluster(&cluster) {}
    void send(const raft::Message& message) override;
    void send_after_persist(const raft::Message& message) override { send(message); }
    void persist(const raft::Ready& ready) override { storage.persist(ready); }
    void restore(const raft::Snapshot&) override {}
    void apply(std::span<const raft::Entry> entries) override;
    void serve_reads(std::span<const raft::ReadState>) override {}

    InMemoryCluster* cluster;
    raft::MemoryStorage storage;
    std::unique_ptr<raft::Core> core;
    raft::ReadyHandler ready_handler;
    std::uint64_t applied_entries = 0;
    std::uint64_t payload_checksum = 0;
  };

  std::vector<std::unique_ptr<Node>> nodes_;  // [0] unused: ids are 1..n
};

}  // namespace shmraft::bench
