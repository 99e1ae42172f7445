// Leader Completeness (§5.4.3 of the Raft paper): a leader's log holds every committed entry. A follower
// sent an AppendEntries that contradicts an entry it knows committed has proof that some node lost or
// damaged persisted entries; it stops with SafetyViolation naming both logs' positions (as etcd panics)
// instead of truncating committed entries or answering "we match" and diverging in silence.
#include "node/raft/safety_violation.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/core/test_cluster.h"

namespace shmraft::raft {
namespace {

using testing::Cluster;
using testing::InitialState;

// Node 1 holds entries 1..3 of term 1, all committed; leader 2 speaks in term 2.
const std::vector<InitialState> kCommittedLog = {{{1, 1, 1}, {1, kNoNode, 3}}};

std::vector<Entry> entries_of_terms(Index first, std::initializer_list<Term> terms) {
  std::vector<Entry> es;
  for (Term t : terms) es.push_back({t, first++, EntryType::kNormal, {}});
  return es;
}

std::string violation_of(Cluster& c, const AppendEntries& m) {
  try {
    c.core(1).step(m);
  } catch (const SafetyViolation& violation) {
    return violation.what();
  }
  ADD_FAILURE() << "no SafetyViolation";
  return {};
}

void expect_mentions(const std::string& text, std::initializer_list<std::string> parts) {
  for (const std::string& part : parts) EXPECT_NE(text.find(part), std::string::npos) << part << "\n" << text;
}

TEST(SafetyViolation, EntriesContradictingCommittedOnesStopTheFollower) {
  Cluster c(3, {}, 1, kCommittedLog);
  const auto es = entries_of_terms(2, {2, 2});
  const std::string what = violation_of(c, AppendEntries{2, 1, 2, 1, 1, 3, es});
  expect_mentions(
      what, {"node 1", "leader 2 (term 2)", "prev_log 1 (term 1)", "entries 2 (term 2) to 3 (term 2)",
             "entry 2 has term 2 where this node holds term 1", "commit index 3", "log ends at 3, term 1"});
  EXPECT_EQ(c.log_terms(1), (std::vector<Term>{1, 1, 1}));
}

TEST(SafetyViolation, APrevLogContradictingACommittedEntryStopsTheFollower) {
  Cluster c(3, {}, 1, kCommittedLog);
  const std::string what = violation_of(c, AppendEntries{2, 1, 2, 3, 2, 3, {}});
  expect_mentions(what, {"prev_log 3 (term 2) with no entries",
                         "entry 3 has term 2 where this node holds term 1", "commit index 3"});
}

// What is not a violation: a retransmission below the commit index that agrees, and a conflict above it.
TEST(SafetyViolation, AgreeingRetransmissionsAndConflictsAboveCommitAreFine) {
  Cluster c(3, {}, 1, {{{1, 1, 1, 1}, {1, kNoNode, 3}}});
  const auto same = entries_of_terms(2, {1, 1});
  EXPECT_NO_THROW(c.core(1).step(AppendEntries{2, 1, 2, 1, 1, 3, same}));
  c.handle_ready(1);
  c.network().clear();
  const auto newer = entries_of_terms(4, {2});  // entry 4 (uncommitted) is replaced
  EXPECT_NO_THROW(c.core(1).step(AppendEntries{2, 1, 2, 3, 1, 3, newer}));
  EXPECT_EQ(c.log_terms(1), (std::vector<Term>{1, 1, 1, 2}));
}

}  // namespace
}  // namespace shmraft::raft
