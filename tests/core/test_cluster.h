#pragma once
// A tiny in-memory harness for the core's unit tests: N cores over MemoryStorage, a FIFO "network" that
// carries every message through the wire codec, explicit partitions, and the Ready contract followed
// by the shared ReadyHandler with its invariant checks on.
// Not the randomized simulator (tests/sim): delivery here is deterministic and explicit.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "node/raft/codec.h"
#include "node/raft/core.h"
#include "node/raft/memory_storage.h"
#include "node/raft/ready_handler.h"

namespace shmraft::raft::testing {

inline Bytes as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::string as_string(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// A message in flight: its encoded bytes and a decoded view of them.
struct Packet {
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  std::vector<std::byte> bytes;
  bool wakes = true;  // wakes_receiver(): what the encoding does not carry
  DecodeScratch scratch;

  Message decoded() {
    Decoded<Message> d = decode_message(bytes, scratch);
    if (!d) throw std::runtime_error(std::string("Packet: undecodable message: ") + to_string(d.error));
    return d.value;
  }
  template <class T>
  bool is() {
    return std::holds_alternative<T>(decoded());
  }
};

inline std::unique_ptr<Packet> make_packet(const Message& m) {
  auto p = std::make_unique<Packet>();
  p->from = message_from(m);
  p->to = message_to(m);
  p->wakes = wakes_receiver(m);
  p->bytes.resize(encoded_size(m));
  const Encoded e = encode(m, p->bytes);
  if (!e) throw std::runtime_error(std::string("Packet: encode failed: ") + to_string(e.error));
  return p;
}

struct AppliedEntry {
  Index index;
  Term term;
  EntryType type;
  std::string data;
};

// The log a node starts with: the terms of entries 1..n, plus its hard state.
struct InitialState {
  std::vector<Term> log_terms;
  HardState hard_state;
};

class Cluster {
 public:
  using Tweak = std::function<void(Config&)>;

  explicit Cluster(std::uint32_t n, const Tweak& tweak = {}, std::uint64_t seed = 1,
                   const std::vector<InitialState>& initial = {})
      : n_(n), nodes_(n + 1) {
    for (NodeId id = 1; id <= n; ++id) {
      Node& node = nodes_[id];
      node.storage = std::make_unique<MemoryStorage>();
      if (id - 1 < initial.size()) {
        const InitialState& s = initial[id - 1];
        std::vector<Entry> entries;
        for (std::size_t k = 0; k < s.log_terms.size(); ++k)
          entries.push_back({s.log_terms[k], k + 1, EntryType::kNormal, {}});
        node.storage->append(entries);
        node.storage->set_hard_state(s.hard_state);
      }
      node.config.id = id;
      node.config.voters = voters_numbered_1_to(n);
      node.config.seed = seed * 1000 + id;
      node.config.incarnation = next_incarnation_++;
      if (tweak) tweak(node.config);
      node.core = std::make_unique<Core>(node.config, *node.storage);
    }
  }

  std::uint32_t size() const { return n_; }
  Core& core(NodeId id) { return *nodes_.at(id).core; }
  MemoryStorage& storage(NodeId id) { return *nodes_.at(id).storage; }
  const std::vector<AppliedEntry>& applied(NodeId id) { return nodes_.at(id).applied; }
  const std::vector<ReadState>& reads(NodeId id) { return nodes_.at(id).reads; }
  std::deque<std::unique_ptr<Packet>>& network() { return network_; }

  // Drops every message to or from `id` until heal().
  void isolate(NodeId id) { nodes_.at(id).isolated = true; }
  void heal() {
    for (Node& node : nodes_) node.isolated = false;
  }
  void reconnect(NodeId id) { nodes_.at(id).isolated = false; }
  // Extra, test-specific loss: return true to drop.
  std::function<bool(const Message&)> drop_if;

  // Runs one Ready cycle for `id` if it has one; returns whether it did.
  bool handle_ready(NodeId id) {
    Node& node = nodes_.at(id);
    Host host(*this, node);
    return node.ready_handler.handle(*node.core, host);
  }

  bool handle_all_ready() {
    bool any = false;
    for (NodeId id = 1; id <= n_; ++id) any |= handle_ready(id);
    return any;
  }

  // Delivers the oldest message in flight (if its link is up); returns false if none was in flight.
  bool deliver_one() {
    if (network_.empty()) return false;
    std::unique_ptr<Packet> p = std::move(network_.front());
    network_.pop_front();
    if (!nodes_.at(p->to).isolated && !nodes_.at(p->from).isolated) nodes_[p->to].core->step(p->decoded());
    return true;
  }

  // Handles Readies and delivers messages until nothing moves.
  void stabilize(int max_rounds = 100000) {
    for (int i = 0; i < max_rounds; ++i) {
      const bool ready = handle_all_ready();
      if (!deliver_one() && !ready) return;
    }
    throw std::runtime_error("Cluster::stabilize: no quiescence");
  }

  void tick(NodeId id) { nodes_.at(id).core->tick(); }
  void tick_all(int times = 1) {
    for (int t = 0; t < times; ++t) {
      for (NodeId id = 1; id <= n_; ++id) tick(id);
      stabilize();
    }
  }

  // Makes `id` campaign and settles the election.
  void elect(NodeId id) {
    stabilize();
    core(id).campaign();
    stabilize();
  }

  // The one node that considers itself leader among the non-isolated nodes, or 0.
  NodeId leader() {
    NodeId found = kNoNode;
    for (NodeId id = 1; id <= n_; ++id) {
      if (nodes_[id].isolated || core(id).role() != Role::kLeader) continue;
      if (found != kNoNode) return kNoNode;
      found = id;
    }
    return found;
  }

  ProposeResult propose(NodeId id, const std::string& data) { return core(id).propose(as_bytes(data)); }

  // Restarts `id` from what its storage holds (a crash loses anything unpersisted), as a new process:
  // with a new incarnation.
  void restart(NodeId id) {
    Node& node = nodes_.at(id);
    node.config.incarnation = next_incarnation_++;
    node.core = std::make_unique<Core>(node.config, *node.storage);
    node.ready_handler = ReadyHandler(true);
    node.applied.clear();
  }
  // Restarts `id` with its storage lost: empty log, term 0, no vote (a wiped directory).
  void restart_wiped(NodeId id) {
    Node& node = nodes_.at(id);
    node.core.reset();  // it reads the storage about to go
    node.storage = std::make_unique<MemoryStorage>();
    restart(id);
  }

  // Restarts `id` with its storage lost, as a host that detects it does (Config::state_lost).
  void restart_lost(NodeId id) {
    nodes_.at(id).config.state_lost = true;
    restart_wiped(id);
    nodes_.at(id).config.state_lost = false;  // later restarts find the lost mark in the storage
  }

  // Terms of a node's log 1..last (from the core's view, including unstable entries).
  std::vector<Term> log_terms(NodeId id) {
    std::vector<Term> terms;
    const RaftLog& log = core(id).log();
    for (Index i = log.first_index(); i <= log.last_index(); ++i) terms.push_back(log.term(i).value_or(0));
    return terms;
  }

 private:
  struct Node {
    Config config;
    std::unique_ptr<MemoryStorage> storage;
    std::unique_ptr<Core> core;
    ReadyHandler ready_handler{true};
    std::vector<AppliedEntry> applied;
    std::vector<ReadState> reads;
    Index snapshot_index = 0;
    bool isolated = false;
  };

  class Host final : public ReadyHost {
   public:
    Host(Cluster& cluster, Node& node) : cluster_(cluster), node_(node) {}
    void send(const Message& m) override { cluster_.post(m); }
    void persist(const Ready& rd) override { node_.storage->persist(rd); }
    void restore(const Snapshot& snapshot) override {
      node_.applied.clear();
      node_.snapshot_index = snapshot.meta.index;
    }
    void apply(std::span<const Entry> entries) override {
      for (const Entry& e : entries) node_.applied.push_back({e.index, e.term, e.type, as_string(e.data)});
    }
    void serve_reads(std::span<const ReadState> reads) override {
      node_.reads.insert(node_.reads.end(), reads.begin(), reads.end());
    }

   private:
    Cluster& cluster_;
    Node& node_;
  };

  void post(const Message& m) {
    if (nodes_.at(message_from(m)).isolated || nodes_.at(message_to(m)).isolated) return;
    if (drop_if && drop_if(m)) return;
    network_.push_back(make_packet(m));
  }

  std::uint32_t n_;
  std::uint64_t next_incarnation_ = 1;  // unique per core started, never 0 (untracked)
  std::vector<Node> nodes_;
  std::deque<std::unique_ptr<Packet>> network_;
};

}  // namespace shmraft::raft::testing
