// The shared Ready handler (ready_handler.h): it follows the contract's order, and with checking on it
// catches a broken node-local invariant (ready_invariants.h) — fed crafted states and Readies, and a
// core whose persisted term went back.
#include "node/raft/ready_handler.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "node/raft/memory_storage.h"

namespace shmraft::raft {
namespace {

// Records every hook call by name.
class RecordingHost final : public ReadyHost {
 public:
  explicit RecordingHost(MemoryStorage& storage) : storage_(storage) {}
  void on_soft_state(const SoftState&) override { calls.push_back("soft_state"); }
  void send(const Message&) override { calls.push_back("send"); }
  void send_after_persist(const Message&) override { calls.push_back("send_after_persist"); }
  void persist(const Ready& ready) override {
    calls.push_back("persist");
    storage_.persist(ready);
  }
  void restore(const Snapshot&) override { calls.push_back("restore"); }
  void apply(std::span<const Entry> entries) override {
    for (const Entry& e : entries) calls.push_back("apply " + std::to_string(e.index));
  }
  void serve_reads(std::span<const ReadState>) override { calls.push_back("serve_reads"); }

  std::vector<std::string> calls;

 private:
  MemoryStorage& storage_;
};

Config config_for(NodeId id, std::uint32_t voters) {
  Config config;
  config.id = id;
  config.voters = voters_numbered_1_to(voters);
  config.pre_vote = false;
  return config;
}

// core.h's contract: a candidate's vote requests promise its persisted term and vote, so they leave only
// after persist(); the application hooks come after, then advance().
TEST(ReadyHandler, FollowsTheContractsOrder) {
  MemoryStorage storage;
  Core core(config_for(1, 3), storage);
  core.campaign();
  RecordingHost host(storage);
  ReadyHandler handler(true);
  ASSERT_TRUE(handler.handle(core, host));
  EXPECT_EQ(host.calls, (std::vector<std::string>{"soft_state", "persist", "send_after_persist",
                                                  "send_after_persist", "serve_reads"}));
  EXPECT_FALSE(core.has_ready());
  EXPECT_FALSE(handler.handle(core, host));  // nothing to do: no hook is called
  EXPECT_EQ(host.calls.size(), 5u);
}

// A one-node cluster elects itself, appends its no-op and, once that is persisted, applies it.
TEST(ReadyHandler, AppliesCommittedEntriesAfterPersisting) {
  MemoryStorage storage;
  Core core(config_for(1, 1), storage);
  core.campaign();
  RecordingHost host(storage);
  ReadyHandler handler(true);
  while (handler.handle(core, host)) {
  }
  EXPECT_EQ(host.calls, (std::vector<std::string>{"soft_state", "persist", "serve_reads", "persist",
                                                  "apply 1", "serve_reads"}));
  EXPECT_EQ(core.applied_index(), 1u);
}

TEST(ReadyInvariants, CommitBeyondTheLastIndexIsCaught) {
  ReadyInvariants invariants;
  EXPECT_THROW(invariants.check_state({.term = 1, .commit = 5, .last_index = 4}), InvariantViolation);
}

TEST(ReadyInvariants, AppliedBeyondCommitIsCaught) {
  ReadyInvariants invariants;
  EXPECT_THROW(invariants.check_state({.term = 1, .commit = 3, .last_index = 4, .applied = 4}),
               InvariantViolation);
}

TEST(ReadyInvariants, AFallingTermIsCaught) {
  ReadyInvariants invariants;
  invariants.check_state({.term = 5, .vote = 2, .commit = 3, .last_index = 4, .applied = 3});
  invariants.check_state({.term = 6, .commit = 3, .last_index = 4, .applied = 3});
  try {
    invariants.check_state({.term = 4, .commit = 3, .last_index = 4, .applied = 3});
    FAIL() << "a falling term was not caught";
  } catch (const InvariantViolation& violation) {
    EXPECT_NE(std::string(violation.what()).find("the term fell from 6 to 4"), std::string::npos)
        << violation.what();
  }
}

// §5.2: at most one vote per term.
TEST(ReadyInvariants, ASecondVoteInOneTermIsCaught) {
  ReadyInvariants invariants;
  invariants.check_state({.term = 3, .vote = kNoNode});
  invariants.check_state({.term = 3, .vote = 2});  // casting the term's vote is fine
  EXPECT_THROW(invariants.check_state({.term = 3, .vote = 3}), InvariantViolation);
  ReadyInvariants next_term;
  next_term.check_state({.term = 3, .vote = 2});
  next_term.check_state({.term = 4, .vote = 3});  // a new term, a new vote
}

TEST(ReadyInvariants, EntriesAppliedOutOfOrderAreCaught) {
  ReadyInvariants invariants;
  invariants.check_state({.term = 2, .commit = 6, .last_index = 6, .applied = 3});
  const Entry in_order[] = {{2, 4, EntryType::kNormal, {}}, {2, 5, EntryType::kNormal, {}}};
  const Entry gap[] = {{2, 4, EntryType::kNormal, {}}, {2, 6, EntryType::kNormal, {}}};
  const Entry again[] = {{2, 3, EntryType::kNormal, {}}};
  Ready ready;
  ready.committed_entries = in_order;
  invariants.check_ready(ready);
  ready.committed_entries = gap;
  EXPECT_THROW(invariants.check_ready(ready), InvariantViolation);
  ready.committed_entries = again;
  EXPECT_THROW(invariants.check_ready(ready), InvariantViolation);
  // After a snapshot in the same Ready, entries continue from the snapshot's index.
  ready.snapshot = Snapshot{{9, 2}, {}};
  const Entry after_snapshot[] = {{2, 10, EntryType::kNormal, {}}};
  ready.committed_entries = after_snapshot;
  invariants.check_ready(ready);
}

// A handler whose core comes back with a lower term than it had reported (storage that lost the hard
// state) stops at the next Ready, before anything is sent.
TEST(ReadyHandler, CatchesATermThatWentBack) {
  MemoryStorage storage;
  auto core = std::make_unique<Core>(config_for(1, 3), storage);
  core->campaign();
  core->campaign();  // term 2
  RecordingHost host(storage);
  ReadyHandler handler(true);
  ASSERT_TRUE(handler.handle(*core, host));
  ASSERT_EQ(core->term(), 2u);

  MemoryStorage lost;  // the term and vote never made it to disk
  core = std::make_unique<Core>(config_for(1, 3), lost);
  core->campaign();  // term 1
  host.calls.clear();
  EXPECT_THROW(handler.handle(*core, host), InvariantViolation);
  EXPECT_TRUE(host.calls.empty());
  ReadyHandler unchecked(false);  // off: the same state goes through
  EXPECT_NO_THROW(unchecked.handle(*core, host));
}

}  // namespace
}  // namespace shmraft::raft
