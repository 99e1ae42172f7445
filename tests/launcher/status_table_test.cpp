// What `shmraft status` shows (launcher/status_table.h), from counters set by hand: the JSON carries the
// lost state, the repairs and each node's configuration; the table shows them within its widths.
#include "launcher/status_table.h"

#include <gtest/gtest.h>

#include <sstream>

#include "node/process/node_counters.h"
#include "tests/ipc/test_support.h"

namespace shmraft::launcher {
namespace {

NodeStatus live_node(uint32_t node, uint64_t role) {
  NodeStatus s;
  s.node = node;
  s.pid = static_cast<pid_t>(1000 + node);
  s.alive = true;
  s.counters.role = role;
  s.counters.term = 3;
  s.counters.leader = 1;
  s.counters.voters = 0b0110;    // voters 1 and 2
  s.counters.learners = 0b1000;  // learner 3
  return s;
}

// Leader 1 repaired node 3, which has left lost mode and is a learner; node 4 lost its state and awaits
// repair (it still holds the older configuration).
std::vector<NodeStatus> repairing_cluster() {
  NodeStatus leader = live_node(1, node::kRoleLeader);
  leader.counters.repairs = 2;
  NodeStatus voter = live_node(2, node::kRoleFollower);
  NodeStatus learner = live_node(3, node::kRoleFollower);
  NodeStatus lost = live_node(4, node::kRoleFollower);
  lost.counters.lost = 1'700'000'000'000'000'000;
  lost.counters.voters = 0b11110;
  lost.counters.learners = 0;
  return {leader, voter, learner, lost};
}

TEST(StatusTable, JsonCarriesLostRepairsAndTheConfiguration) {
  const nlohmann::json nodes = status_json(repairing_cluster());
  ASSERT_EQ(nodes.size(), 4u);
  EXPECT_EQ(nodes[0]["repairs"], 2);
  EXPECT_EQ(nodes[0]["lost"], 0);
  EXPECT_EQ(nodes[0]["voters"], nlohmann::json({1, 2}));
  EXPECT_EQ(nodes[0]["learners"], nlohmann::json({3}));
  EXPECT_EQ(nodes[2]["role"], "follower") << "the JSON role stays the Raft role";
  EXPECT_EQ(nodes[3]["lost"], 1'700'000'000'000'000'000u);
  EXPECT_EQ(nodes[3]["repairs"], 0);
  EXPECT_EQ(nodes[3]["voters"], nlohmann::json({1, 2, 3, 4}));
  EXPECT_EQ(nodes[3]["learners"], nlohmann::json::array());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(StatusTable, TheNarrowTableNamesLearnersAndLostNodesInTheRoleColumn) {
  const std::vector<std::string> lines =
      lines_of(render_status_table(repairing_cluster(), TableWidth::narrow));
  ASSERT_EQ(lines.size(), 5u);
  for (const std::string& line : lines) EXPECT_LE(line.size(), 80u) << line;
  EXPECT_NE(lines[1].find("leader"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("follower"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("learner"), std::string::npos) << lines[3];
  EXPECT_NE(lines[4].find("lost"), std::string::npos) << lines[4];
  EXPECT_EQ(lines[0].find("repairs"), std::string::npos) << "repairs is a wide column";
}

TEST(StatusTable, TheWideTableCountsRepairs) {
  const std::vector<std::string> lines = lines_of(render_status_table(repairing_cluster(), TableWidth::wide));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_TRUE(lines[0].ends_with(" repairs")) << lines[0];
  EXPECT_TRUE(lines[1].ends_with(" 2")) << lines[1];
  EXPECT_TRUE(lines[2].ends_with(" 0")) << lines[2];
}

TEST(StatusTable, ADownNodeShowsDownWhateverItsCountersSay) {
  std::vector<NodeStatus> nodes = repairing_cluster();
  nodes[3].alive = false;
  const std::vector<std::string> lines = lines_of(render_status_table(nodes, TableWidth::narrow));
  EXPECT_NE(lines[4].find("down"), std::string::npos) << lines[4];
  EXPECT_EQ(lines[4].find("lost"), std::string::npos) << lines[4];
}

// A node that joined (id above the initial voters) is listed once it ran, and the links to it count in
// every row's link column: a partition that cuts the joined node off shows on both sides.
TEST(StatusTable, ReadStatusCoversEveryNodeSlotInUse) {
  ipc::test::ScopedCluster cluster;
  ipc::SegmentConfig config = ipc::test::tiny_config(3);
  config.max_nodes = 6;
  ipc::Segment segment = ipc::Segment::create(cluster.name(), config);
  ipc::NodeCounters& joined = segment.node_counters(5);
  joined.set(joined.pid, 999'999);  // it ran (not alive: no such node process)
  segment.link_fault(1, 5).set(ipc::FaultSettings{false, 0.0, {}});
  segment.link_fault(5, 1).set(ipc::FaultSettings{false, 0.0, {}});
  segment.link_fault(5, 2).set(ipc::FaultSettings{true, 0.5, {}});

  EXPECT_EQ(nodes_in_use(segment), (std::vector<uint32_t>{1, 2, 3, 5})) << "node 4 and 6 never ran";
  const std::vector<NodeStatus> nodes = read_status(segment);
  ASSERT_EQ(nodes.size(), 4u);
  EXPECT_EQ(nodes[0].links.describe(), "cut:1") << "node 1's link to the joined node 5";
  EXPECT_EQ(nodes[1].links.describe(), "ok");
  EXPECT_EQ(nodes[3].node, 5u);
  EXPECT_FALSE(nodes[3].alive);
  EXPECT_EQ(nodes[3].links.describe(), "c1d1");
}

// A slot whose node is down and outside the configuration the cluster holds is a removed node (an initial
// voter `up` left out after a `member remove`): "removed", as `member list` leaves it out of the members,
// while a member that is down, or one down awaiting its repair, stays "down".
TEST(StatusTable, ANodeDownOutsideTheConfigurationShowsRemoved) {
  ipc::test::ScopedCluster cluster;
  ipc::SegmentConfig config = ipc::test::tiny_config(3);
  config.max_nodes = 5;
  ipc::Segment segment = ipc::Segment::create(cluster.name(), config);
  // No process runs (pids that are no node of this cluster): the configuration read is then that of the
  // highest commit index, node 4's.
  const auto ran = [&](uint32_t node, uint64_t commit, uint64_t voters, uint64_t lost) {
    ipc::NodeCounters& c = segment.node_counters(node);
    c.set(c.pid, 999'990 + node);
    c.set(c.commit_index, commit);
    c.set(c.voters, voters);
    c.set(c.lost, lost);
  };
  ran(2, 10, 0b11100, 0);  // voters 2, 3, 4: node 1 was removed before this `up`, node 1 never ran
  ran(3, 9, 0b00100, 7);   // lost, and taken out of the voters for its repair: still a member
  ran(4, 12, 0b10100, 0);  // the latest configuration: voters 2 and 4

  const std::vector<NodeStatus> nodes = read_status(segment);
  ASSERT_EQ(nodes.size(), 4u);
  EXPECT_EQ(cluster_members(nodes), raft::NodeSet::from_bits(0b10100));
  EXPECT_EQ(role_name(nodes[0]), "removed");
  EXPECT_EQ(role_name(nodes[1]), "down");
  EXPECT_EQ(role_name(nodes[2]), "down") << "awaiting repair";
  EXPECT_EQ(role_name(nodes[3]), "down");
  const std::vector<std::string> lines = lines_of(render_status_table(nodes, TableWidth::narrow));
  EXPECT_NE(lines[1].find("removed"), std::string::npos) << lines[1];
  EXPECT_EQ(status_json(nodes)[0]["member"], false);
  EXPECT_EQ(status_json(nodes)[1]["member"], true);
}

// Before any node published its configuration nothing is taken for removed.
TEST(StatusTable, NoConfigurationKnownMeansEveryNodeIsAMember) {
  ipc::test::ScopedCluster cluster;
  ipc::Segment segment = ipc::Segment::create(cluster.name(), ipc::test::tiny_config(3));
  const std::vector<NodeStatus> nodes = read_status(segment);
  EXPECT_FALSE(cluster_members(nodes).has_value());
  for (const NodeStatus& s : nodes) EXPECT_EQ(role_name(s), "down") << s.node;
}

}  // namespace
}  // namespace shmraft::launcher
