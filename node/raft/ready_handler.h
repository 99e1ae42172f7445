#pragma once
// The application's half of the Ready contract (core.h), written once for every host — the node loop,
// the simulator, the core tests and bench_core — so that a new kind of entry or message is handled in
// one place. A host supplies the I/O as a ReadyHost; the handler calls it in the contract's order:
//
//   ready() -> on_soft_state -> send(messages) -> persist (if anything to persist)
//   -> send_after_persist(messages_after_persist) -> restore(snapshot) -> apply(committed entries)
//   -> serve_reads(read states) -> advance() -> [invariants]
//
// With invariant checking on, ReadyInvariants (ready_invariants.h) runs around every Ready and throws
// InvariantViolation on a broken rule. One handler per Core instance: a restarted core gets a new one.
// Nothing here allocates.
#include <span>
#include <type_traits>

#include "node/raft/core.h"
#include "node/raft/ready.h"
#include "node/raft/ready_invariants.h"

namespace shmraft::raft {

class ReadyHost {
 public:
  virtual ~ReadyHost() = default;
  // The role or the known leader changed.
  virtual void on_soft_state(const SoftState&) {}
  // Hands a message to the transport. Any time: it does not depend on this Ready being durable.
  virtual void send(const Message& message) = 0;
  // Only called once persist() returned: the message promises the persisted state. (A final host that
  // keeps this default pays a virtual call for the send() inside it: override it to call send().)
  virtual void send_after_persist(const Message& message) { send(message); }
  // Step 2 of the contract: ready.snapshot, then ready.entries (dropping stored entries from
  // entries[0].index on), then ready.hard_state, durable per the host's mode when this returns.
  virtual void persist(const Ready& ready) = 0;
  // The state machine's state becomes the snapshot's.
  virtual void restore(const Snapshot& snapshot) = 0;
  // Committed entries, in order, never empty. Every EntryType comes here; the state machine applies
  // kNormal and skips the others.
  virtual void apply(std::span<const Entry> entries) = 0;
  // Called for every Ready (reads confirmed earlier may wait for this Ready's apply); `reads` may be empty.
  virtual void serve_reads(std::span<const ReadState> reads) = 0;
};

class ReadyHandler {
 public:
  explicit ReadyHandler(bool check_invariants = false) : check_invariants_(check_invariants) {}

  // Handles one Ready start to finish if the core has one; returns whether it did. A template so that
  // a `final` host's hooks are called directly, not through the vtable (the hot path calls send() per
  // message); a host that keeps its hooks private makes ReadyHandler a friend.
  template <class Host>
  bool handle(Core& core, Host& host) {
    if (!core.has_ready()) return false;
    begin(core, host);
    finish(core, host);
    return true;
  }

  // The same in two halves, for a host whose persist completes later (the simulator):
  // begin() takes the Ready, reports the soft state and sends `messages`; finish() does the rest.
  template <class Host>
  const Ready& begin(Core& core, Host& host) {
    static_assert(std::is_base_of_v<ReadyHost, Host>, "a Ready host implements raft::ReadyHost");
    if (check_invariants_) check_state(core);  // the first call records a baseline
    const Ready& ready = core.ready();
    if (ready.soft_state) host.on_soft_state(*ready.soft_state);
    for (const Message& m : ready.messages) host.send(m);
    return ready;
  }

  template <class Host>
  void finish(Core& core, Host& host) {
    const Ready& ready = core.pending_ready();
    if (check_invariants_) invariants_.check_ready(ready);
    if (ready.must_persist()) host.persist(ready);
    for (const Message& m : ready.messages_after_persist) host.send_after_persist(m);
    if (ready.snapshot) host.restore(*ready.snapshot);
    if (!ready.committed_entries.empty()) host.apply(ready.committed_entries);
    host.serve_reads(ready.read_states);
    core.advance();
    if (check_invariants_) check_state(core);
  }

 private:
  void check_state(const Core& core);

  bool check_invariants_;
  ReadyInvariants invariants_;
};

}  // namespace shmraft::raft
