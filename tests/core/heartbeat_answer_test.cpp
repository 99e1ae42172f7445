// Which answers to a heartbeat wake the leader (HeartbeatResponse::urgent): only an idle follower's answer
// to a plain heartbeat, once it has answered this term, may wait until the leader next wakes on its own;
// an answer the leader must act on — a read round's, a restarted follower's, one that holds entries the
// leader does not know it holds — wakes it, or reads, catch-ups and progress resets would wait a
// heartbeat. (The transport side: tests/node/shm_transport_wake_test.cpp.)
#include <gtest/gtest.h>

#include <map>

#include "tests/core/test_cluster.h"

namespace shmraft::raft {
namespace {

using testing::Cluster;

// One heartbeat round of `leader`: whether each follower's answer wakes the leader. The answers are then
// delivered and the cluster settles.
std::map<NodeId, bool> answer_wakes(Cluster& c, NodeId leader) {
  for (int t = 0; t < c.core(leader).config().heartbeat_tick; ++t) c.tick(leader);
  c.handle_ready(leader);
  while (c.deliver_one()) {
  }
  std::map<NodeId, bool> wakes;
  for (NodeId id = 1; id <= c.size(); ++id) {
    if (id == leader) continue;
    c.handle_ready(id);
    for (auto& p : c.network())
      if (p->from == id && p->is<HeartbeatResponse>()) wakes[id] = p->wakes;
  }
  c.stabilize();
  return wakes;
}

Cluster idle_cluster() {
  Cluster c(3);
  c.elect(1);
  c.propose(1, "w");
  c.stabilize();
  (void)answer_wakes(c, 1);  // each follower's first answer of the term
  return c;
}

TEST(HeartbeatAnswer, AnIdleFollowersAnswerToAPlainHeartbeatNeedNotWakeTheLeader) {
  Cluster c = idle_cluster();
  EXPECT_EQ(answer_wakes(c, 1), (std::map<NodeId, bool>{{2, false}, {3, false}}));
}

TEST(HeartbeatAnswer, TheFirstAnswerOfATermWakesTheLeader) {
  Cluster c(3);
  c.elect(1);
  c.propose(1, "w");
  c.stabilize();
  EXPECT_EQ(answer_wakes(c, 1), (std::map<NodeId, bool>{{2, true}, {3, true}}));
}

// A restarted follower's new incarnation is news: the leader must drop the old match at once.
TEST(HeartbeatAnswer, ARestartedFollowersFirstAnswerWakesTheLeader) {
  Cluster c = idle_cluster();
  c.restart(2);
  EXPECT_EQ(answer_wakes(c, 1), (std::map<NodeId, bool>{{2, true}, {3, false}}));
  EXPECT_EQ(c.core(1).progress_resets(), 1u);
}

TEST(HeartbeatAnswer, AnAnswerToAReadRoundWakesTheLeader) {
  Cluster c = idle_cluster();
  ASSERT_EQ(c.core(1).read_index(7), Status::kOk);
  c.handle_ready(1);
  while (c.deliver_one()) {
  }
  int answers = 0;
  for (NodeId id : {2u, 3u}) {
    c.handle_ready(id);
    for (auto& p : c.network()) {
      if (p->from != id || !p->is<HeartbeatResponse>()) continue;
      ++answers;
      EXPECT_TRUE(p->wakes) << "node " << id << "'s answer to a read round";
    }
  }
  EXPECT_EQ(answers, 2);
  c.stabilize();
  EXPECT_EQ(c.reads(1).size(), 1u);
}

// Node 2 holds an entry whose acknowledgement the leader never got: the heartbeat's commit (bounded by
// node 2's match at the leader) is below node 2's last index, so its answer must bring the leader back.
TEST(HeartbeatAnswer, AFollowerHoldingMoreThanTheLeaderKnowsWakesIt) {
  Cluster c = idle_cluster();
  c.drop_if = [](const Message& m) {
    return message_from(m) == 2 && std::holds_alternative<AppendResponse>(m);
  };
  c.propose(1, "x");
  c.stabilize();
  c.drop_if = nullptr;
  ASSERT_GT(c.core(2).log().last_index(), c.core(1).progress(2).match);
  EXPECT_EQ(answer_wakes(c, 1), (std::map<NodeId, bool>{{2, true}, {3, false}}));
}

}  // namespace
}  // namespace shmraft::raft
