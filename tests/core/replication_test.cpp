// §5.3–5.4 of the Raft paper, one rule per test: log matching and conflict truncation, convergence from
// the Figure 7 logs, fast backtracking, committing only current-term entries by counting (Figure 8), the
// persist-then-send contract, flow control (probe / replicate window, batching) and snapshot catch-up.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/core/test_cluster.h"

namespace shmraft::raft {
namespace {

using testing::as_bytes;
using testing::Cluster;
using testing::InitialState;
using testing::Packet;

std::vector<std::unique_ptr<Packet>> outbox(Cluster& c, NodeId id) {
  c.handle_ready(id);
  std::vector<std::unique_ptr<Packet>> out;
  for (auto& p : c.network()) out.push_back(std::move(p));
  c.network().clear();
  return out;
}

// The prev_log_index of each AppendEntries to `to` among `out`, in order.
std::vector<Index> append_prevs(const std::vector<std::unique_ptr<Packet>>& out, NodeId to) {
  std::vector<Index> prevs;
  for (const auto& p : out)
    if (p->to == to && p->is<AppendEntries>())
      prevs.push_back(std::get<AppendEntries>(p->decoded()).prev_log_index);
  return prevs;
}

// Elections without pre-vote or CheckQuorum, for tests that drive them by hand.
void plain_elections(Config& cfg) {
  cfg.pre_vote = false;
  cfg.check_quorum = false;
}

// Node 1 leads and commits `count` entries that never reach the `lagging` voters, is cut off, and node 2
// campaigns. Returns where the lagging voters' logs end.
Index commit_without_then_campaign(Cluster& c, std::vector<NodeId> lagging, int count) {
  c.elect(1);
  c.drop_if = [lagging](const Message& m) {
    return std::holds_alternative<AppendEntries>(m) &&
           std::find(lagging.begin(), lagging.end(), message_to(m)) != lagging.end();
  };
  for (int k = 0; k < count; ++k) c.propose(1, "committed without the lagging voters");
  c.stabilize();
  c.drop_if = {};
  const Index lagging_end = c.core(lagging.front()).log().last_index();
  EXPECT_EQ(c.core(2).log().last_index(), lagging_end + count);
  c.isolate(1);
  c.core(2).campaign();
  return lagging_end;
}

AppendResponse only_append_response(Cluster& c, NodeId id) {
  auto out = outbox(c, id);
  EXPECT_EQ(out.size(), 1u);
  return std::get<AppendResponse>(out.at(0)->decoded());
}

std::vector<Entry> entries_of_terms(Index first, std::initializer_list<Term> terms) {
  std::vector<Entry> es;
  for (Term t : terms) es.push_back({t, first++, EntryType::kNormal, {}});
  return es;
}

// §5.3: the follower refuses entries unless it holds prev_log_index with prev_log_term.
TEST(LogMatching, MismatchedPrevIsRejectedAndLogUnchanged) {
  Cluster c(3, {}, 1, {{}, {{1, 1, 2}, {2, kNoNode, 0}}, {}});
  const auto es = entries_of_terms(4, {3});
  c.core(2).step(AppendEntries{1, 2, 3, 3, 3, 0, es});  // we hold term 2 at index 3, not 3
  const AppendResponse r = only_append_response(c, 2);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reject_index, 3u);
  EXPECT_EQ(c.log_terms(2), (std::vector<Term>{1, 1, 2}));

  c.core(2).step(AppendEntries{1, 2, 3, 5, 3, 0, {}});  // beyond our log
  const AppendResponse r2 = only_append_response(c, 2);
  EXPECT_FALSE(r2.success);
  EXPECT_EQ(r2.conflict_index, 4u);
  EXPECT_EQ(r2.conflict_term, 0u);
}

// §5.3: an entry that conflicts with the leader's (same index, different term) is deleted with all
// that follow it, and the leader's entries are appended.
TEST(LogMatching, ConflictingSuffixIsTruncated) {
  Cluster c(3, {}, 1, {{}, {{1, 1, 2, 2}, {2, kNoNode, 1}}, {}});
  const auto es = entries_of_terms(3, {3, 3});
  c.core(2).step(AppendEntries{1, 2, 3, 2, 1, 1, es});
  const AppendResponse r = only_append_response(c, 2);
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.match_index, 4u);
  EXPECT_EQ(c.log_terms(2), (std::vector<Term>{1, 1, 3, 3}));
  EXPECT_EQ(c.storage(2).term(3), 3u);  // and so does what was persisted
}

// A delayed or duplicated AppendEntries that matches must not truncate entries that follow it.
TEST(LogMatching, StaleMatchingAppendDoesNotTruncate) {
  Cluster c(3, {}, 1, {{}, {{1, 1, 1, 1}, {1, kNoNode, 0}}, {}});
  const auto es = entries_of_terms(2, {1});
  c.core(2).step(AppendEntries{1, 2, 1, 1, 1, 0, es});
  const AppendResponse r = only_append_response(c, 2);
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.match_index, 2u);
  EXPECT_EQ(c.log_terms(2), (std::vector<Term>{1, 1, 1, 1}));
}

// §5.3: commit index follows leader_commit but never beyond the entries this message proved match.
TEST(LogMatching, FollowerCommitIsCappedByVerifiedEntries) {
  Cluster c(3, {}, 1, {{}, {{1, 1, 1, 9, 9}, {9, kNoNode, 0}}, {}});
  const auto es = entries_of_terms(2, {1});
  c.core(2).step(AppendEntries{1, 2, 9, 1, 1, 5, es});
  only_append_response(c, 2);
  EXPECT_EQ(c.core(2).commit_index(), 2u);
}

struct Figure7Case {
  const char* name;
  std::vector<Term> follower;
};

// Figure 7: a leader of term 8 brings each of the followers (a)–(f) to its own log; with conflict-term
// hints (fast backtracking) each needs at most two rejected probes.
TEST(LogMatching, Figure7FollowersConverge) {
  const std::vector<Term> leader = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
  const Figure7Case cases[] = {
      {"a", {1, 1, 1, 4, 4, 5, 5, 6, 6}},
      {"b", {1, 1, 1, 4}},
      {"c", {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6}},
      {"d", {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7}},
      {"e", {1, 1, 1, 4, 4, 4, 4}},
      {"f", {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3}},
  };
  for (const Figure7Case& k : cases) {
    // Node 1 leads; node 3 holds the leader's log, so node 1 can win even where (c), (d) refuse.
    Cluster c(3, {}, 1,
              {{leader, {7, kNoNode, 1}}, {k.follower, {7, kNoNode, 1}}, {leader, {7, kNoNode, 1}}});
    int rejections = 0;
    c.drop_if = [&](const Message& m) {
      if (const auto* r = std::get_if<AppendResponse>(&m); r && r->from == 2 && !r->success) ++rejections;
      return false;
    };
    c.elect(1);
    ASSERT_EQ(c.leader(), 1u) << k.name;
    ASSERT_EQ(c.core(1).term(), 8u) << k.name;
    std::vector<Term> want = leader;
    want.push_back(8);  // the new leader's no-op
    EXPECT_EQ(c.log_terms(2), want) << "follower " << k.name;
    EXPECT_EQ(c.core(2).commit_index(), want.size()) << k.name;
    EXPECT_LE(rejections, 2) << "follower " << k.name;
  }
}

TEST(LogMatching, ConflictTermHintSkipsWholeTerm) {
  // 60 divergent entries: one-by-one backtracking would take 60 round trips; the hint takes one.
  std::vector<Term> old_leader(61, 2), new_leader(61, 3);
  old_leader[0] = new_leader[0] = 1;
  Cluster c(3, {}, 1,
            {{new_leader, {3, kNoNode, 1}}, {old_leader, {3, kNoNode, 1}}, {new_leader, {3, kNoNode, 1}}});
  int rejections = 0;
  c.drop_if = [&](const Message& m) {
    if (const auto* r = std::get_if<AppendResponse>(&m); r && r->from == 2 && !r->success) ++rejections;
    return false;
  };
  c.elect(1);
  ASSERT_EQ(c.leader(), 1u);
  EXPECT_EQ(c.log_terms(2), c.log_terms(1));
  EXPECT_EQ(rejections, 1);
}

// Drives node 1 to leadership in term 4 over logs  n1: [1, 2]  n2: [1]  n3: [1], without letting any
// replication happen, then reports a follower acknowledgement of index 2 (the term-2 entry).
void figure8_setup(Cluster& c) {
  c.core(1).campaign();
  c.handle_ready(1);
  while (c.core(1).role() != Role::kLeader) {
    c.handle_all_ready();
    ASSERT_TRUE(c.deliver_one());
  }
  ASSERT_EQ(c.core(1).term(), 4u);
  c.handle_ready(1);  // persists the no-op at index 3; its AppendEntries are lost:
  c.network().clear();
  c.core(1).step(AppendResponse{.from = 2, .to = 1, .term = 4, .success = true, .match_index = 2});
}

const std::vector<InitialState> kFigure8Logs = {
    {{1, 2}, {3, kNoNode, 1}}, {{1}, {3, kNoNode, 1}}, {{1}, {3, kNoNode, 1}}};

// §5.4.2 / Figure 8: an entry of an earlier term is not committed by counting replicas, however many
// servers hold it; it is committed only indirectly, once an entry of the current term is.
TEST(Commit, OnlyCurrentTermEntriesCommitByCounting) {
  Cluster c(
      3, [](Config& cfg) { cfg.pre_vote = false; }, 1, kFigure8Logs);
  figure8_setup(c);
  EXPECT_EQ(c.core(1).commit_index(), 1u) << "index 2 (term 2) is on a majority but must not commit";
  c.core(1).step(AppendResponse{.from = 2, .to = 1, .term = 4, .success = true, .match_index = 3});
  EXPECT_EQ(c.core(1).commit_index(), 3u);  // the term-4 no-op commits, and index 2 with it
}

// The injected Figure 8 bug does what it says, so the simulator can prove it catches it.
TEST(Commit, FaultInjectionCommitsPreviousTermByCounting) {
  Cluster c(
      3,
      [](Config& cfg) {
        cfg.pre_vote = false;
        cfg.testing_faults.commit_previous_term_by_counting = true;
      },
      1, kFigure8Logs);
  figure8_setup(c);
  EXPECT_EQ(c.core(1).commit_index(), 2u);
}

// Dissertation §10.2.1 and the Ready contract: the leader ships new entries while persisting them
// (Ready::messages) and counts its own copy only after advance(); a follower acknowledges only after
// persisting (Ready::messages_after_persist).
TEST(Commit, LeaderSendsWhilePersistingAndCountsItselfAfter) {
  Cluster c(3);
  c.elect(1);
  const ProposeResult p = c.propose(1, "x");
  ASSERT_EQ(p.status, Status::kOk);
  const Ready& rd = c.core(1).ready();
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_EQ(rd.entries[0].index, p.index);
  EXPECT_TRUE(rd.messages_after_persist.empty());
  int appends = 0;
  for (const Message& m : rd.messages) {
    if (const auto* a = std::get_if<AppendEntries>(&m); a && !a->entries.empty()) {
      EXPECT_EQ(a->entries.back().index, p.index);
      ++appends;
    }
  }
  EXPECT_EQ(appends, 2);
  EXPECT_LT(c.core(1).progress(1).match, p.index);
  EXPECT_THROW(c.core(1).step(HeartbeatResponse{.from = 2, .to = 1, .term = 1}),
               std::logic_error);  // mid-Ready
  c.storage(1).persist(rd);
  c.core(1).advance();
  EXPECT_EQ(c.core(1).progress(1).match, p.index);

  // Follower side: the acknowledgement waits for persistence.
  const auto es = c.core(1).log().entry(p.index);
  c.core(2).step(AppendEntries{1, 2, 1, p.index - 1, 1, 0, std::span<const Entry>(&*es, 1)});
  const Ready& f = c.core(2).ready();
  EXPECT_EQ(f.entries.size(), 1u);
  EXPECT_TRUE(f.messages.empty());
  ASSERT_EQ(f.messages_after_persist.size(), 1u);
  EXPECT_TRUE(std::get<AppendResponse>(f.messages_after_persist[0]).success);
  c.storage(2).persist(f);
  c.core(2).advance();
}

TEST(Commit, EveryNodeAppliesTheSameEntriesInOrder) {
  Cluster c(5);
  c.elect(1);
  for (int k = 0; k < 20; ++k) ASSERT_EQ(c.propose(1, "cmd" + std::to_string(k)).status, Status::kOk);
  c.stabilize();
  c.tick_all(2);  // heartbeats carry the final commit index to followers
  for (NodeId id = 1; id <= 5; ++id) {
    const auto& applied = c.applied(id);
    ASSERT_EQ(applied.size(), 21u) << "node " << id;  // the no-op + 20 commands
    EXPECT_EQ(applied[0].type, EntryType::kNoop);
    for (int k = 0; k < 20; ++k) {
      EXPECT_EQ(applied[k + 1].index, static_cast<Index>(k + 2));
      EXPECT_EQ(applied[k + 1].data, "cmd" + std::to_string(k));
    }
  }
}

TEST(Commit, SingleNodeClusterCommitsAfterPersist) {
  Cluster c(1);
  c.elect(1);
  ASSERT_EQ(c.leader(), 1u);
  c.propose(1, "solo");
  c.stabilize();
  EXPECT_EQ(c.core(1).commit_index(), 2u);
  ASSERT_EQ(c.applied(1).size(), 2u);
  EXPECT_EQ(c.applied(1)[1].data, "solo");
}

TEST(Commit, RestartKeepsPersistedStateAndRejoins) {
  Cluster c(3);
  c.elect(1);
  for (int k = 0; k < 5; ++k) c.propose(1, "v" + std::to_string(k));
  c.stabilize();
  c.restart(2);
  EXPECT_EQ(c.core(2).term(), c.core(1).term());
  EXPECT_EQ(c.core(2).log().last_index(), 6u);
  c.propose(1, "after");
  c.stabilize();
  c.tick_all(2);
  EXPECT_EQ(c.core(2).commit_index(), 7u);
  EXPECT_EQ(c.applied(2).back().data, "after");
}

// Flow control: a probing follower gets one AppendEntries at a time. (Node 2 misses an entry, so it
// refuses the new leader's first append and is probed.)
TEST(FlowControl, ProbeSendsOneMessageAtATime) {
  Cluster c(3, [](Config& cfg) {
    cfg.pre_vote = false;
    cfg.check_quorum = false;  // no lease: node 3 may depose node 1
    cfg.max_msg_bytes = 1;
  });
  c.elect(1);
  c.drop_if = [](const Message& m) { return message_to(m) == 2 && std::holds_alternative<AppendEntries>(m); };
  c.propose(1, "2-misses-it");
  c.stabilize();
  c.drop_if = nullptr;
  c.core(3).campaign();
  while (c.core(3).role() != Role::kLeader || c.core(3).progress(2).state != ProgressState::kProbe) {
    c.handle_all_ready();
    ASSERT_TRUE(c.deliver_one());
  }
  c.network().clear();  // what it sent before the refusal
  for (int k = 0; k < 10; ++k) c.propose(3, "p");
  auto out = outbox(c, 3);
  int to2 = 0;
  for (auto& p : out) to2 += p->to == 2 && p->is<AppendEntries>();
  EXPECT_EQ(to2, 1);
  EXPECT_EQ(c.core(3).progress(2).state, ProgressState::kProbe);
}

// A new leader replicates at once, without a probe: a client's first entry goes out right behind the
// no-op instead of a round trip later (fail-over, issue 13).
TEST(FlowControl, ANewLeaderPipelinesItsFirstEntriesWithoutProbing) {
  Cluster c(3, [](Config& cfg) {
    cfg.pre_vote = false;
    cfg.check_quorum = false;  // no lease: node 2 may campaign while node 3 still follows node 1
  });
  c.elect(1);
  c.isolate(1);
  c.core(2).campaign();
  while (c.core(2).role() != Role::kLeader) {
    c.handle_all_ready();
    ASSERT_TRUE(c.deliver_one());
  }
  c.handle_ready(2);    // the no-op goes out ...
  c.network().clear();  // ... and its answers are yet to come
  c.propose(2, "first");
  auto out = outbox(c, 2);
  int to3 = 0;
  for (auto& p : out) to3 += p->to == 3 && p->is<AppendEntries>();
  EXPECT_EQ(to3, 1) << "the client's entry waits for the no-op's answer";
  EXPECT_EQ(c.core(2).progress(3).state, ProgressState::kReplicate);
}

// A voter the old leader committed without tells the new leader where its log ends, and the new
// leader's first append starts there: before, it started at the leader's end, and the voter refused it
// a round trip before the no-op could commit (fail-over with 16 clients, issue 13).
TEST(FlowControl, ANewLeaderReplicatesToALaggingVoterFromWhereItsLogEnds) {
  Cluster c(3, plain_elections);
  const Index lagging_end = commit_without_then_campaign(c, {3}, 5);
  while (c.core(2).role() != Role::kLeader) {
    c.handle_all_ready();
    ASSERT_TRUE(c.deliver_one());
  }
  auto out = outbox(c, 2);
  const std::vector<Index> prevs = append_prevs(out, 3);
  ASSERT_FALSE(prevs.empty());
  EXPECT_EQ(prevs.front(), lagging_end) << "node 3 would refuse an append after an entry it lacks";
  for (auto& p : out) c.network().push_back(std::move(p));
  c.core(3).step(std::get<AppendEntries>(c.network().front()->decoded()));  // (the first one only)
  c.network().clear();
  EXPECT_TRUE(only_append_response(c, 3).success);
}

// With 5 nodes a grant may be read after the election was won (in the same batch as the deciding one):
// its log end counts too, as long as nothing went to that voter yet.
TEST(FlowControl, AGrantReadAfterTheElectionWasWonStillSaysWhereToStart) {
  Cluster c(5, plain_elections);
  const Index lagging_end = commit_without_then_campaign(c, {4, 5}, 5);
  c.handle_ready(2);  // the vote requests
  while (c.deliver_one()) {
  }
  for (NodeId voter : {3u, 4u, 5u}) c.handle_ready(voter);  // the grants, 3's first
  while (!c.network().empty()) c.deliver_one();             // 2 wins on 4's grant, then reads 5's as leader
  ASSERT_EQ(c.core(2).role(), Role::kLeader);
  auto out = outbox(c, 2);
  for (NodeId lagging : {4u, 5u}) {
    const std::vector<Index> prevs = append_prevs(out, lagging);
    ASSERT_FALSE(prevs.empty());
    EXPECT_EQ(prevs.front(), lagging_end) << "to node " << lagging;
  }
}

// A voter's log end counts only where the new leader holds the same entry: one whose tail the old
// leader never committed (another term) is replicated to from the new leader's end, and truncated.
TEST(FlowControl, ANewLeaderIgnoresAVotersLogEndThatItsLogDoesNotHold) {
  // Node 3 holds an entry of term 2 at index 3 that node 2, with (3, 3), does not: it votes for 2.
  Cluster c(3, [](Config& cfg) { cfg.pre_vote = false; }, 1,
            {{}, {{1, 1, 3}, {3, kNoNode, 0}}, {{1, 2}, {3, kNoNode, 0}}});
  c.isolate(1);
  c.core(2).campaign();
  while (c.core(2).role() != Role::kLeader) {
    c.handle_all_ready();
    ASSERT_TRUE(c.deliver_one());
  }
  auto out = outbox(c, 2);
  for (auto& p : out)
    if (p->to == 3 && p->is<AppendEntries>()) {
      EXPECT_EQ(std::get<AppendEntries>(p->decoded()).prev_log_index, 3u);
    }
  for (auto& p : out) c.network().push_back(std::move(p));
  c.stabilize();
  EXPECT_EQ(c.log_terms(3), c.log_terms(2));
}

// A replicating follower gets pipelined AppendEntries up to the in-flight window, batched by bytes.
TEST(FlowControl, ReplicateFillsWindowThenWaitsForAcks) {
  Cluster c(3, [](Config& cfg) {
    cfg.max_msg_bytes = 100;
    cfg.max_inflight_msgs = 3;
  });
  c.elect(1);
  ASSERT_EQ(c.core(1).progress(2).state, ProgressState::kReplicate);
  const std::string payload(40, 'x');
  for (int k = 0; k < 20; ++k) c.propose(1, payload);
  auto out = outbox(c, 1);
  int to2 = 0;
  for (auto& p : out) {
    if (p->to != 2) continue;
    const auto a = std::get<AppendEntries>(p->decoded());
    EXPECT_EQ(a.entries.size(), 2u) << "two 40-byte entries fit in 100 bytes, three do not";
    ++to2;
  }
  EXPECT_EQ(to2, 3);
  EXPECT_TRUE(c.core(1).progress(2).inflights.full());
  EXPECT_EQ(c.core(1).progress(2).next, 1u + 6u + 1u);  // optimistic: 6 entries past the no-op

  for (auto& p : out) c.network().push_back(std::move(p));
  c.stabilize();  // acks reopen the window until everything is through
  EXPECT_EQ(c.core(2).log().last_index(), 21u);
  EXPECT_EQ(c.core(1).commit_index(), 21u);
}

TEST(FlowControl, LargeBatchGoesInOneMessage) {
  Cluster c(3);
  c.elect(1);
  for (int k = 0; k < 256; ++k) c.propose(1, std::string(64, 'e'));
  auto out = outbox(c, 1);
  int to2 = 0;
  for (auto& p : out) {
    if (p->to != 2) continue;
    EXPECT_EQ(std::get<AppendEntries>(p->decoded()).entries.size(), 256u);
    ++to2;
  }
  EXPECT_EQ(to2, 1);
}

// §7: a follower whose next entry was compacted away catches up from the leader's snapshot.
TEST(Snapshot, LaggingFollowerCatchesUpFromSnapshot) {
  Cluster c(3);
  c.elect(1);
  c.isolate(3);
  for (int k = 0; k < 30; ++k) c.propose(1, std::to_string(k));
  c.stabilize();
  const Index snap = c.core(1).commit_index();
  ASSERT_EQ(snap, 31u);
  c.storage(1).create_snapshot(snap, as_bytes("state-at-31"));
  c.storage(1).compact(snap);
  EXPECT_EQ(c.core(1).log().first_index(), 32u);

  int snapshots_sent = 0;
  bool lose_first = true;
  c.drop_if = [&](const Message& m) {
    if (!std::holds_alternative<InstallSnapshot>(m)) return false;
    ++snapshots_sent;
    return std::exchange(lose_first, false);  // the first one is lost: the leader must retry
  };
  c.heal();
  c.tick_all(3 * c.core(1).config().election_tick);
  EXPECT_EQ(snapshots_sent, 2);
  EXPECT_EQ(c.storage(3).snapshot().meta, (SnapshotMeta{31, 1}));
  EXPECT_EQ(testing::as_string(c.storage(3).snapshot().data), "state-at-31");
  EXPECT_EQ(c.core(3).log().first_index(), 32u);
  EXPECT_EQ(c.core(3).applied_index(), 31u);
  EXPECT_EQ(c.core(1).progress(3).state, ProgressState::kReplicate);

  c.propose(1, "after-snapshot");
  c.stabilize();
  c.tick_all(2);
  EXPECT_EQ(c.core(3).commit_index(), 32u);
  ASSERT_FALSE(c.applied(3).empty());
  EXPECT_EQ(c.applied(3).back().data, "after-snapshot");
  EXPECT_EQ(c.applied(3).front().index, 32u);  // nothing before the snapshot was replayed
}

// A snapshot the follower's log already covers only moves its commit index; an old one changes nothing.
TEST(Snapshot, CoveredOrStaleSnapshotKeepsTheLog) {
  Cluster c(3, {}, 1, {{}, {{1, 1, 2, 2, 2}, {2, kNoNode, 2}}, {}});
  const std::string data = "unused";
  c.core(2).step(InstallSnapshot{1, 2, 2, {4, 2}, testing::as_bytes(data)});
  auto out = outbox(c, 2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<InstallSnapshotResponse>(out[0]->decoded()).match_index, 4u);
  EXPECT_EQ(c.core(2).commit_index(), 4u);
  EXPECT_EQ(c.core(2).log().last_index(), 5u);
  EXPECT_EQ(c.storage(2).snapshot().meta.index, 0u);  // nothing was restored

  c.core(2).step(InstallSnapshot{1, 2, 2, {3, 1}, testing::as_bytes(data)});
  out = outbox(c, 2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<InstallSnapshotResponse>(out[0]->decoded()).match_index, 4u);  // our commit index
  EXPECT_EQ(c.log_terms(2), (std::vector<Term>{1, 1, 2, 2, 2}));
}

// Entries past the snapshot that conflict with it are discarded with the rest of the log.
TEST(Snapshot, ConflictingLogIsReplaced) {
  Cluster c(3, {}, 1, {{}, {{1, 1, 2, 2}, {2, kNoNode, 1}}, {}});
  const std::string data = "state-at-6";
  c.core(2).step(InstallSnapshot{1, 2, 3, {6, 3}, testing::as_bytes(data)});
  const Ready& rd = c.core(2).ready();
  ASSERT_TRUE(rd.snapshot.has_value());
  EXPECT_EQ(rd.snapshot->meta, (SnapshotMeta{6, 3}));
  EXPECT_EQ(testing::as_string(rd.snapshot->data), data);
  EXPECT_TRUE(rd.committed_entries.empty());
  c.storage(2).persist(rd);
  c.core(2).advance();
  EXPECT_EQ(c.core(2).log().first_index(), 7u);
  EXPECT_EQ(c.core(2).log().last_index(), 6u);
  EXPECT_EQ(c.core(2).commit_index(), 6u);
  EXPECT_EQ(c.core(2).applied_index(), 6u);
}

// The follower installs the image for longer than an election timeout: the leader's wait runs out, it
// probes, and its answer comes while the leader probes. The leader takes the match it says; the images
// sent again are dropped, as a host that holds the image installed only tells its sender (node/process).
TEST(Snapshot, AnAnswerAfterTheLeadersWaitRanOutStillCounts) {
  Cluster c(3);
  c.elect(1);
  c.isolate(3);
  for (int k = 0; k < 30; ++k) c.propose(1, std::to_string(k));
  c.stabilize();
  const Index snap = c.core(1).commit_index();
  c.storage(1).create_snapshot(snap, as_bytes("state-at-31"));
  c.storage(1).compact(snap);
  bool quiet_3 = false;  // its heartbeat answers lost: the leader stays probing, not sending again
  c.drop_if = [&](const Message& m) {
    const auto* hr = std::get_if<HeartbeatResponse>(&m);
    return std::holds_alternative<InstallSnapshot>(m) || (quiet_3 && hr != nullptr && hr->from == 3);
  };
  const auto tick_leader = [&](int ticks) {
    for (int t = 0; t < ticks; ++t) {
      c.tick(1);
      c.stabilize();
    }
  };
  c.heal();
  tick_leader(c.core(1).config().heartbeat_tick);
  ASSERT_EQ(c.core(1).progress(3).state, ProgressState::kSnapshot);
  quiet_3 = true;
  tick_leader(c.core(1).config().election_tick);
  ASSERT_EQ(c.core(1).progress(3).state, ProgressState::kProbe);

  const std::string image = "state-at-31";  // installed now, as the host's finish_install steps it
  c.core(3).step(InstallSnapshot{1, 3, c.core(1).term(), {snap, 1}, as_bytes(image)});
  c.stabilize();
  EXPECT_EQ(c.core(1).progress(3).match, snap);
  EXPECT_EQ(c.core(1).progress(3).state, ProgressState::kReplicate);

  quiet_3 = false;
  c.propose(1, "after-snapshot");
  c.stabilize();
  c.tick_all(2 * c.core(1).config().election_tick);
  EXPECT_EQ(c.core(3).commit_index(), snap + 1);
}

}  // namespace
}  // namespace shmraft::raft
