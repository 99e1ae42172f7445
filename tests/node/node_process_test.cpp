// Real node processes over a real segment: elections, writes through the client, SIGKILL of the leader,
// restart from the data directories, and bad frames on the rings. Label `cluster`, run serially.
#include "node/process/node_process.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "launcher/client/client.h"
#include "node/process/client_wire.h"
#include "node/process/node_counters.h"
#include "tests/node/test_cluster.h"

namespace shmraft::node::testing {
namespace {

using namespace std::chrono_literals;

std::string all_logs(TestCluster& cluster) {
  std::string text;
  for (uint32_t i = 1; i <= cluster.nodes(); ++i) text += cluster.log_tail(i);
  return text;
}

// Writes key<i> = value<i> for i in [from, to), asserting each is acknowledged.
void write_keys(client::Client& c, int from, int to, TestCluster& cluster) {
  for (int i = from; i < to; ++i) {
    const client::Result r = c.put("key" + std::to_string(i), "value" + std::to_string(i));
    ASSERT_EQ(r.status, client::Status::ok) << "put key" << i << "\n" << all_logs(cluster);
  }
}

void expect_keys(client::Client& c, int from, int to) {
  for (int i = from; i < to; ++i) {
    const client::Result r = c.get("key" + std::to_string(i));
    ASSERT_EQ(r.status, client::Status::ok) << "get key" << i;
    EXPECT_EQ(r.value, "value" + std::to_string(i));
  }
}

TEST(NodeProcess, ThreeNodesElectALeaderAndServeEveryOperation) {
  TestCluster cluster(3, "elect");
  // The launcher stamps each data directory before the first start; the node must accept that.
  for (uint32_t i = 1; i <= 3; ++i) {
    std::filesystem::create_directories(cluster.data_dir(i));
    std::ofstream(cluster.data_dir(i) / "cluster-id")
        << cluster.name() << " 00000000000000000000000000000000\n";
  }
  cluster.start_all();
  const std::optional<uint32_t> leader = cluster.wait_for_leader(20s);
  ASSERT_TRUE(leader) << all_logs(cluster);

  client::Client c(cluster.name(), TestCluster::client_options());
  ASSERT_EQ(c.put("k", "v1").status, client::Status::ok) << all_logs(cluster);
  EXPECT_EQ(c.get("k").value, "v1");
  EXPECT_EQ(c.append("k", "+2").status, client::Status::ok);
  EXPECT_EQ(c.cas("k", "wrong", "x").status, client::Status::cas_failed);
  EXPECT_EQ(c.cas("k", "v1+2", "v3").status, client::Status::ok);
  EXPECT_EQ(c.get("k").value, "v3");
  EXPECT_EQ(c.del("k").status, client::Status::ok);
  const client::Result absent = c.get("k");
  EXPECT_EQ(absent.status, client::Status::ok);
  EXPECT_EQ(absent.value, "");
  EXPECT_GE(c.async().leader(), 1u) << "the client learnt who leads";
  EXPECT_LE(c.async().leader(), 3u);

  // The phase timestamps of a write are ordered as the write travelled.
  const client::Result put = c.put("p", "x");
  ASSERT_EQ(put.status, client::Status::ok);
  const client::Phases& ph = put.phases;
  EXPECT_LE(ph.client_send_ns, ph.leader_receive_ns);
  EXPECT_LE(ph.leader_receive_ns, ph.leader_persist_ns);
  EXPECT_LE(ph.leader_persist_ns, ph.commit_ns);
  EXPECT_LE(ph.commit_ns, ph.apply_ns);
  EXPECT_LE(ph.apply_ns, ph.client_receive_ns);

  // Every node applies the writes, and publishes what it is doing.
  // (A starved machine may have held an election meanwhile: compare with whoever leads now.)
  const std::optional<uint32_t> current = cluster.wait_for_leader(20s);
  ASSERT_TRUE(current);
  // The leader publishes its counters after answering, so its commit counter may still lag the last
  // acknowledged write: wait for at least that write.
  const uint64_t leader_commit = cluster.segment().node_counters(*current).snapshot().commit_index;
  ASSERT_TRUE(cluster.wait_for_applied(std::max<uint64_t>(7, leader_commit), 20s));
  for (uint32_t i = 1; i <= 3; ++i) {
    const ipc::NodeCountersSnapshot s = cluster.segment().node_counters(i).snapshot();
    EXPECT_NE(s.pid, 0u);
    EXPECT_GE(s.applied_index, 7u) << "node " << i << ": a no-op and six writes";
    EXPECT_EQ(role_name(s.role), i == *current ? "leader" : "follower") << "node " << i;
    EXPECT_GT(s.frames_in, 0u);
    EXPECT_GT(s.frames_out, 0u);
  }
  EXPECT_EQ(cluster.stop(1), 0) << "SIGTERM must stop a node cleanly";
  EXPECT_EQ(cluster.segment().node_counters(1).snapshot().role, kRoleStopped);
}

TEST(NodeProcess, LeaderKilledNewLeaderNoAcknowledgedWriteLost) {
  TestCluster cluster(3, "killleader");
  cluster.start_all();
  const std::optional<uint32_t> first = cluster.wait_for_leader(20s);
  ASSERT_TRUE(first) << all_logs(cluster);

  client::Client c(cluster.name(), TestCluster::client_options());
  write_keys(c, 0, 100, cluster);
  cluster.kill(*first);
  const std::optional<uint32_t> second = cluster.wait_for_leader(20s, first);
  ASSERT_TRUE(second) << all_logs(cluster);
  EXPECT_NE(*second, *first);

  write_keys(c, 100, 150, cluster);  // the client finds the new leader by itself
  expect_keys(c, 0, 150);

  // The killed node rejoins from its data directory and catches up.
  cluster.start(*first);
  const uint64_t commit = cluster.segment().node_counters(*second).snapshot().commit_index;
  EXPECT_TRUE(cluster.wait_for_applied(commit, 20s)) << all_logs(cluster);
}

TEST(NodeProcess, WholeClusterKilledAndRestartedRecoversEverything) {
  TestCluster cluster(3, "restart");
  for (uint32_t i = 1; i <= 3; ++i) cluster.options(i).snapshot_bytes = 4096;  // also recover from snapshots
  cluster.start_all();
  ASSERT_TRUE(cluster.wait_for_leader(20s)) << all_logs(cluster);
  {
    client::Client c(cluster.name(), TestCluster::client_options());
    write_keys(c, 0, 200, cluster);
  }
  // Snapshots are written by a child process in the background: give the first one time to land.
  auto all_have_snapshots = [&] {
    for (uint32_t i = 1; i <= 3; ++i)
      if (!std::filesystem::exists(cluster.data_dir(i) / "snap" / "snapshot")) return false;
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!all_have_snapshots() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  for (uint32_t i = 1; i <= 3; ++i) cluster.kill(i);
  for (uint32_t i = 1; i <= 3; ++i) {
    EXPECT_TRUE(std::filesystem::exists(cluster.data_dir(i) / "snap" / "snapshot")) << "node " << i;
    const std::map<std::string, std::string> state = replay_kv_state(cluster.data_dir(i));
    EXPECT_GE(state.size(), 1u) << "node " << i << " holds a state it can replay offline";
  }
  cluster.start_all();
  ASSERT_TRUE(cluster.wait_for_leader(20s)) << all_logs(cluster);
  client::Client c(cluster.name(), TestCluster::client_options());
  expect_keys(c, 0, 200);
  write_keys(c, 200, 210, cluster);
}

TEST(NodeProcess, BadFramesAreCountedAndSkipped) {
  TestCluster cluster(3, "badframes");
  cluster.start_all();
  const std::optional<uint32_t> leader = cluster.wait_for_leader(20s);
  ASSERT_TRUE(leader) << all_logs(cluster);
  // Node `quiet` is stopped so that this test may act as the producer of its ring to the leader.
  const uint32_t quiet = *leader % 3 + 1;
  cluster.kill(quiet);
  const uint64_t bad_before = cluster.segment().node_counters(*leader).snapshot().bad_frames;

  ipc::RingProducer ring = cluster.segment().peer_producer(quiet, *leader);
  // 1. A frame whose bytes change after its checksum was computed: the ring resynchronises.
  std::byte* payload = ring.try_reserve(64);
  ASSERT_NE(payload, nullptr);
  std::memset(payload, 0x5a, 64);
  ring.commit(kPeerFrame, 64);
  payload[10] = std::byte{0x00};
  ring.publish();
  auto wait_for_bad_frames = [&](uint64_t count) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (cluster.segment().node_counters(*leader).snapshot().bad_frames < count &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    return cluster.segment().node_counters(*leader).snapshot().bad_frames;
  };
  // (A resynchronisation skips everything visible, so the next frame goes in only after this one.)
  EXPECT_EQ(wait_for_bad_frames(bad_before + 1), bad_before + 1);
  // 2. An intact frame that is not a Raft message.
  const std::byte junk[16] = {std::byte{0xff}, std::byte{0x07}};
  ASSERT_TRUE(ring.try_push(kPeerFrame, junk));
  EXPECT_EQ(wait_for_bad_frames(bad_before + 2), bad_before + 2);

  // The leader carries on, and the quiet node rejoins over the same ring.
  client::Client c(cluster.name(), TestCluster::client_options());
  write_keys(c, 0, 10, cluster);
  cluster.start(quiet);
  const uint64_t commit = cluster.segment().node_counters(*leader).snapshot().commit_index;
  EXPECT_TRUE(cluster.wait_for_applied(commit, 20s)) << all_logs(cluster);
}

TEST(NodeProcess, OverLoopbackTcpTheSameLoopCommitsAndSurvivesALeaderKill) {
  TestCluster cluster(3, "tcp");
  for (uint32_t i = 1; i <= 3; ++i) cluster.options(i).transport = TransportKind::tcp;
  cluster.start_all();
  const std::optional<uint32_t> first = cluster.wait_for_leader(20s);
  ASSERT_TRUE(first) << all_logs(cluster);
  for (uint32_t i = 1; i <= 3; ++i)
    EXPECT_NE(cluster.segment().node_counters(i).snapshot().tcp_port, 0u) << "node " << i;

  client::ClientOptions options = TestCluster::client_options();
  options.transport = client::TransportKind::tcp;
  client::Client c(cluster.name(), options);
  write_keys(c, 0, 50, cluster);
  cluster.kill(*first);
  const std::optional<uint32_t> second = cluster.wait_for_leader(20s, first);
  ASSERT_TRUE(second) << all_logs(cluster);
  write_keys(c, 50, 60, cluster);
  cluster.start(*first);  // rejoins on a new port, which its peers pick up from the counters
  expect_keys(c, 0, 60);
  const uint64_t commit = cluster.segment().node_counters(*second).snapshot().commit_index;
  EXPECT_TRUE(cluster.wait_for_applied(commit, 20s)) << all_logs(cluster);
}

void isolate(TestCluster& cluster, uint32_t node, bool connected) {
  for (uint32_t other = 1; other <= cluster.nodes(); ++other) {
    if (other == node) continue;
    cluster.segment().link_fault(node, other).set({.connected = connected});
    cluster.segment().link_fault(other, node).set({.connected = connected});
  }
}

// A leader cut off from its peers accepts a write into its log, then steps down (CheckQuorum): the write
// may still commit elsewhere in general, so a session-less client must report it unknown rather than
// resend it; a session client resends it and it applies exactly once.
TEST(NodeProcess, AWriteLoggedByALeaderThatLostLeadershipIsInDoubt) {
  TestCluster cluster(3, "indoubt");
  cluster.start_all();
  ASSERT_TRUE(cluster.wait_for_leader(20s)) << all_logs(cluster);
  for (const bool session : {false, true}) {
    SCOPED_TRACE(session ? "session client" : "session-less client");
    client::ClientOptions options = TestCluster::client_options();
    options.session = session;
    options.attempt_timeout = 20s;  // the step-down's answer, not a timeout, must decide the outcome
    client::Client c(cluster.name(), options);
    const std::optional<uint32_t> leader = cluster.wait_for_leader(20s);
    ASSERT_TRUE(leader) << all_logs(cluster);
    const std::string key = session ? "with-session" : "without-session";
    ASSERT_EQ(c.get(key).status, client::Status::ok) << "the client learns the leader";
    isolate(cluster, *leader, false);
    const uint64_t last_before = cluster.segment().node_counters(*leader).snapshot().last_index;
    const client::Result r = c.append(key, "x");
    // Only as leader does the cut-off node append: if it did not, it had stepped down before reading
    // the request (a starved host), and the write simply went to the next leader.
    const bool logged = cluster.segment().node_counters(*leader).snapshot().last_index > last_before;
    isolate(cluster, *leader, true);
    if (session)
      EXPECT_EQ(r.status, client::Status::ok) << all_logs(cluster);
    else if (logged)
      EXPECT_EQ(r.status, client::Status::unknown) << all_logs(cluster);
    else
      EXPECT_EQ(r.status, client::Status::ok) << all_logs(cluster);
    if (session) {
      const client::Result read = c.get(key);
      ASSERT_EQ(read.status, client::Status::ok);
      EXPECT_EQ(read.value, "x") << "applied exactly once";
    }
    std::printf("%s: the cut-off leader %s the write; outcome %s\n", session ? "session" : "no session",
                logged ? "logged" : "never saw", std::string(client::to_string(r.status)).c_str());
  }
}

TEST(NodeProcess, RefusesToStartWithAClearError) {
  TestCluster cluster(3, "refuse");
  NodeOptions bad = cluster.options(1);
  bad.node = 8;  // past the segment's room (7): ids 4..7 may join as non-members
  EXPECT_EQ(run(bad), 1) << "a node id outside the cluster";
  bad.node = 0;
  EXPECT_EQ(run(bad), 1) << "node id 0 means no node";
  NodeOptions missing = cluster.options(1);
  missing.cluster = "no-such-cluster-" + std::to_string(getpid());
  EXPECT_EQ(run(missing), 1) << "a cluster without a segment";

  cluster.start(1);
  // The node sets its counters' pid only after its storage holds the data directory's lock. Calling
  // run() before that would make this test process node 1, looping forever with nobody to stop it.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (cluster.segment().node_counters(1).snapshot().pid == 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_NE(cluster.segment().node_counters(1).snapshot().pid, 0u) << "the forked node never started\n"
                                                                   << all_logs(cluster);
  EXPECT_EQ(run(cluster.options(1)), 1) << "a data directory another node process holds";
}

}  // namespace
}  // namespace shmraft::node::testing
