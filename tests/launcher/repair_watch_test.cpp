// The chaos judge of repairs (launcher/chaos/repair_watch.h) read from counters set by hand: a node
// restarted on damage must report lost, be repaired within the bound, and grant no vote while lost.
#include "launcher/chaos/repair_watch.h"

#include <gtest/gtest.h>

#include "tests/ipc/test_support.h"

namespace shmraft::launcher {
namespace {

constexpr uint32_t kNode = 2;
constexpr pid_t kNewPid = 4242;
constexpr uint64_t kMark = 77;

class RepairWatchTest : public ::testing::Test {
 protected:
  RepairWatchTest()
      : segment_(ipc::Segment::create(cluster_.name(), ipc::test::tiny_config(3))),
        watch_(segment_, std::chrono::milliseconds(60'000), [](uint32_t) { return std::size_t{0}; }) {
    ipc::NodeCounters& c = counters();
    c.set(c.votes_granted, 5);  // votes the node granted in its starts before the damage
    c.set(c.updated_ns, 1);
    watch_.expect_lost(kNode, /*was_voter=*/true, kNewPid, "a test's damage", /*lost_lines_before=*/0);
    // The restarted process publishes: its pid, the lost mark, a heartbeat after the restart.
    c.set(c.pid, kNewPid);
    c.set(c.lost, kMark);
    c.set(c.voters, 0b0010);  // voter 1 only: the leader took node 2 out
    c.set(c.updated_ns, 2);
  }
  ipc::NodeCounters& counters() { return segment_.node_counters(kNode); }

  ipc::test::ScopedCluster cluster_;
  ipc::Segment segment_;
  RepairWatch watch_;
};

TEST_F(RepairWatchTest, ARepairWithoutAVoteWhileLostPasses) {
  watch_.poll();
  ipc::NodeCounters& c = counters();
  c.set(c.lost, 0);
  c.set(c.voters, 0b0110);    // a voter again
  c.set(c.votes_granted, 6);  // a vote after the repair is allowed
  watch_.poll();
  EXPECT_EQ(watch_.unrepaired(), 0u);
  EXPECT_TRUE(watch_.failures().empty()) << watch_.failures().front();
  EXPECT_EQ(watch_.repair_seconds().size(), 1u);
}

TEST_F(RepairWatchTest, AVoteSeenWithAStaleLostMarkOnceIsNotAFailure) {
  watch_.poll();
  ipc::NodeCounters& c = counters();
  c.set(c.votes_granted, 6);  // read beside the lost mark the node is clearing
  watch_.poll();
  c.set(c.lost, 0);
  c.set(c.voters, 0b0110);
  watch_.poll();
  EXPECT_TRUE(watch_.failures().empty()) << watch_.failures().front();
  EXPECT_EQ(watch_.unrepaired(), 0u);
}

TEST_F(RepairWatchTest, AVoteGrantedWhileLostIsAFailure) {
  watch_.poll();
  ipc::NodeCounters& c = counters();
  c.set(c.votes_granted, 6);
  watch_.poll();
  EXPECT_TRUE(watch_.failures().empty()) << "one read could pair a stale lost mark with a later vote";
  watch_.poll();
  ASSERT_EQ(watch_.failures().size(), 1u);
  EXPECT_NE(watch_.failures().front().find("granted 1 vote(s) while lost"), std::string::npos)
      << watch_.failures().front();
  watch_.poll();
  EXPECT_EQ(watch_.failures().size(), 1u) << "one failure per lost spell, not one per read";
}

}  // namespace
}  // namespace shmraft::launcher
