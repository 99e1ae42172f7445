// Three Raft cores in one process, on shmraft's core alone (shmraft::raft).
//
// The core does no I/O: the application ticks it, steps it with messages, and hands each Ready to the
// library's ReadyHandler, which calls the application's hooks in the contract's order (send, persist,
// send what needs the persisted state, apply, advance; see node/raft/core.h and ready_handler.h).
// Here the "network" is a queue of encoded messages, the storage is MemoryStorage and the state machine a
// toy: commands are decimal numbers, and each node keeps their sum and an order-sensitive digest.
//
// The cluster elects a leader by ticking alone (nobody is told to campaign), the leader commits a
// hundred commands, and the program checks that all three nodes applied the same sequence.
// Exit status 0 when they did, 1 otherwise.
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "node/raft/codec.h"
#include "node/raft/core.h"
#include "node/raft/memory_storage.h"
#include "node/raft/ready_handler.h"

namespace raft = shmraft::raft;

namespace {

constexpr std::uint32_t kNodes = 3;
constexpr int kCommands = 100;
constexpr int kMaxTicks = 1000;

// The replicated state: what every node must agree on once it has applied the same entries.
struct Counter {
  std::int64_t total = 0;
  std::uint64_t digest = 14695981039346656037ull;  // FNV-1a over the commands, in order
  std::uint64_t applied = 0;

  void apply(raft::Bytes command) {
    std::string text;
    for (std::byte b : command) {
      text.push_back(static_cast<char>(b));
      digest = (digest ^ static_cast<std::uint8_t>(b)) * 1099511628211ull;
    }
    total += std::stoll(text);
    ++applied;
  }
  bool operator==(const Counter&) const = default;
};

class Network;

// One node: its core, storage and state machine, and its side of the Ready contract.
struct Node final : raft::ReadyHost {
  raft::MemoryStorage storage;
  std::unique_ptr<raft::Core> core;
  Counter state;
  Network* network = nullptr;
  raft::ReadyHandler ready_handler{/*check_invariants=*/true};

  void send(const raft::Message& message) override;
  void send_after_persist(const raft::Message& message) override { send(message); }
  void persist(const raft::Ready& ready) override { storage.persist(ready); }  // durable: flush here
  void restore(const raft::Snapshot&) override {}                              // nothing compacts here
  void apply(std::span<const raft::Entry> entries) override {
    for (const raft::Entry& entry : entries) {
      if (entry.type == raft::EntryType::kNormal) state.apply(entry.data);
    }
  }
  void serve_reads(std::span<const raft::ReadState>) override {}
};

// Messages leave a Ready as views into the core's memory, valid until advance(): a real transport
// encodes them into its own buffers, and so does this one.
class Network {
 public:
  void send(const raft::Message& message) {
    std::vector<std::byte> frame(raft::encoded_size(message));
    if (!raft::encode(message, frame)) throw std::runtime_error("encode failed");
    queue_.push_back({raft::message_to(message), std::move(frame)});
  }

  // Delivers everything queued so far; returns false if nothing was.
  bool deliver(std::vector<Node>& nodes) {
    if (queue_.empty()) return false;
    std::deque<Frame> batch;
    batch.swap(queue_);
    raft::DecodeScratch scratch;
    for (const Frame& frame : batch) {
      const auto decoded = raft::decode_message(frame.bytes, scratch);
      if (!decoded) throw std::runtime_error(raft::to_string(decoded.error));
      nodes[frame.to].core->step(decoded.value);
    }
    return true;
  }

 private:
  struct Frame {
    raft::NodeId to;
    std::vector<std::byte> bytes;
  };
  std::deque<Frame> queue_;
};

void Node::send(const raft::Message& message) {
  network->send(message);
}

// Handles Readys and delivers messages until the cluster is quiet.
void run_until_quiet(std::vector<Node>& nodes, Network& network) {
  for (bool busy = true; busy;) {
    busy = false;
    for (raft::NodeId id = 1; id <= kNodes; ++id) {
      Node& node = nodes[id];
      busy = node.ready_handler.handle(*node.core, node) || busy;
    }
    busy = network.deliver(nodes) || busy;
  }
}

raft::NodeId leader_of(const std::vector<Node>& nodes) {
  for (raft::NodeId id = 1; id <= kNodes; ++id) {
    if (nodes[id].core->role() == raft::Role::kLeader) return id;
  }
  return raft::kNoNode;
}

}  // namespace

int main() {
  Network network;
  std::vector<Node> nodes(kNodes + 1);  // ids are 1..kNodes; [0] unused
  for (raft::NodeId id = 1; id <= kNodes; ++id) {
    nodes[id].network = &network;
    raft::Config config;
    config.id = id;
    config.voters = raft::voters_numbered_1_to(kNodes);
    config.seed = 42 + id;  // distinct seeds: distinct election timeouts
    nodes[id].core = std::make_unique<raft::Core>(config, nodes[id].storage);
  }

  // Elect: time passes for everyone until some node's election timeout fires and it wins.
  int ticks = 0;
  raft::NodeId leader = raft::kNoNode;
  while ((leader = leader_of(nodes)) == raft::kNoNode && ticks < kMaxTicks) {
    for (raft::NodeId id = 1; id <= kNodes; ++id) nodes[id].core->tick();
    ++ticks;
    run_until_quiet(nodes, network);
  }
  if (leader == raft::kNoNode) {
    std::fprintf(stderr, "no leader after %d ticks\n", ticks);
    return 1;
  }
  std::printf("leader: node %u (term %llu) after %d ticks\n", leader,
              static_cast<unsigned long long>(nodes[leader].core->term()), ticks);

  // Replicate: the leader appends the commands 1..kCommands, the others follow. Config's default
  // broadcast_commit sends each new commit index at once, so the followers apply without further ticks.
  for (int i = 1; i <= kCommands; ++i) {
    const std::string command = std::to_string(i);
    const auto result = nodes[leader].core->propose(std::as_bytes(std::span(command)));
    if (result.status != raft::Status::kOk) {
      std::fprintf(stderr, "propose %d: %s\n", i, raft::to_string(result.status));
      return 1;
    }
    run_until_quiet(nodes, network);
  }

  const Counter& expected = nodes[leader].state;
  bool agree = expected.applied == kCommands && expected.total == kCommands * (kCommands + 1) / 2;
  for (raft::NodeId id = 1; id <= kNodes; ++id) {
    const Counter& s = nodes[id].state;
    std::printf("node %u: applied %llu, commit %llu, total %lld, digest %016llx\n", id,
                static_cast<unsigned long long>(s.applied),
                static_cast<unsigned long long>(nodes[id].core->commit_index()),
                static_cast<long long>(s.total), static_cast<unsigned long long>(s.digest));
    agree = agree && s == expected;
  }
  std::printf(
      agree ? "all %u nodes applied the same %d commands\n" : "the nodes DISAGREE (%u nodes, %d commands)\n",
      kNodes, kCommands);
  return agree ? 0 : 1;
}
