// Snapshots of real node processes. Chunked InstallSnapshot: a wiped follower gets a snapshot many peer
// frames long and catches up; an install interrupted by SIGKILL of the receiver or of the sender resumes
// (the counters say so) rather than restarting; an image damaged in the partial file is refused and
// fetched again. Forked snapshots: images written by a child while clients write hold exactly the state
// at their index. Label `cluster`, run serially.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <string>
#include <thread>

#include "launcher/client/client.h"
#include "node/kv/state_machine.h"
#include "node/process/node_process.h"
#include "node/process/snapshot_receiver.h"
#include "node/storage/node_storage.h"
#include "tests/node/test_cluster.h"

namespace shmraft::node::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kValueBytes = 1024;

std::string all_logs(TestCluster& cluster) {
  std::string text;
  for (uint32_t i = 1; i <= cluster.nodes(); ++i) text += cluster.log_tail(i);
  return text;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

std::string value_of(int i) {
  return std::to_string(i) + std::string(kValueBytes, 'v');
}

void write_keys(TestCluster& cluster, int from, int to) {
  client::Client c(cluster.name(), TestCluster::client_options());
  for (int i = from; i < to; ++i)
    ASSERT_EQ(c.put("key" + std::to_string(i), value_of(i)).status, client::Status::ok) << all_logs(cluster);
}

// Bytes of the image the node's partial file holds (0 when there is none).
uint64_t partial_bytes(TestCluster& cluster, uint32_t node) {
  std::error_code error;
  const uint64_t size = std::filesystem::file_size(cluster.data_dir(node) / kPartialSnapshotFile, error);
  return error || size < kPartialHeaderBytes ? 0 : size - kPartialHeaderBytes;
}

// The largest number `pattern`'s first group matches in the node's log (0 if none).
uint64_t logged_number(TestCluster& cluster, uint32_t node, const std::regex& pattern) {
  std::ifstream log(cluster.options(node).effective_log_file());
  uint64_t largest = 0;
  for (std::string line; std::getline(log, line);) {
    std::smatch match;
    if (std::regex_search(line, match, pattern)) largest = std::max<uint64_t>(largest, std::stoull(match[1]));
  }
  return largest;
}

// The largest value of `counter` in the node's log lines "... <counter> N ..." (0 if none).
uint64_t logged_counter(TestCluster& cluster, uint32_t node, const std::string& counter) {
  return logged_number(cluster, node, std::regex(counter + " ([0-9]+)"));
}

bool log_has(TestCluster& cluster, uint32_t node, const std::string& text) {
  std::ifstream log(cluster.options(node).effective_log_file());
  for (std::string line; std::getline(log, line);)
    if (line.find(text) != std::string::npos) return true;
  return false;
}

// Every key [0, keys) is in the node's directory (its snapshot and log), with its value.
void expect_all_keys(TestCluster& cluster, uint32_t node, int keys) {
  ASSERT_EQ(cluster.stop(node), 0) << cluster.log_tail(node);
  const std::map<std::string, std::string> state = replay_kv_state(cluster.data_dir(node));
  EXPECT_EQ(state.size(), static_cast<std::size_t>(keys));
  for (int i = 0; i < keys; ++i) {
    const auto it = state.find("key" + std::to_string(i));
    ASSERT_NE(it, state.end()) << "key" << i << " missing on node " << node;
    EXPECT_EQ(it->second, value_of(i));
  }
}

// Small frames (under 32 KiB) and frequent snapshots: a few hundred keys make an image of many frames.
ipc::SegmentConfig small_frames() {
  ipc::SegmentConfig config;
  config.peer_ring_capacity = 64 << 10;
  return config;
}

void snapshot_often(TestCluster& cluster) {
  for (uint32_t i = 1; i <= cluster.nodes(); ++i) cluster.options(i).snapshot_bytes = 16 << 10;
}

// Slows the link so that a transfer takes long enough to be interrupted.
void slow_link(TestCluster& cluster, uint32_t from, uint32_t to) {
  ipc::FaultSettings slow;
  slow.delay = 2ms;
  cluster.segment().link_fault(from, to).set(slow);
}

// Snapshots are written by a child in the background, so the one that holds the keys just written lands
// a little later, and more may follow. Waits until the leader stored its last: one that leaves fewer
// than 16 entries after it, whose bytes (over 1 KiB each) stay below --snapshot-bytes, so no other
// starts. The follower then gets one image, the big one, and not a small early one and the log.
void wait_for_final_snapshot(TestCluster& cluster, uint32_t leader) {
  const std::regex stored(R"(snapshot at index ([0-9]+) \()");
  const uint64_t commit = cluster.segment().node_counters(leader).snapshot().commit_index;
  ASSERT_TRUE(wait_until([&] { return logged_number(cluster, leader, stored) + 16 > commit; }, 30s))
      << "commit " << commit << "\n"
      << cluster.log_tail(leader);
}

bool caught_up(TestCluster& cluster, uint32_t node, uint32_t leader) {
  const uint64_t commit = cluster.segment().node_counters(leader).snapshot().commit_index;
  return cluster.segment().node_counters(node).snapshot().applied_index >= commit;
}

struct Install {
  uint32_t leader = 0;
  uint32_t wiped = 0;
  uint32_t other = 0;  // the third node
};

// Starts the cluster, kills a follower, writes `keys` keys and waits for the leader's snapshot of them;
// runs `before_restart`, wipes the follower's directory and starts it again, so the leader installs the
// snapshot. With `partial_at_least` > 0, the link to the follower is slowed first, and this returns once
// its partial file holds that many bytes.
void start_install(
    TestCluster& cluster, int keys, uint64_t partial_at_least, Install& install,
    const std::function<void()>& before_restart = [] {}) {
  snapshot_often(cluster);
  cluster.start_all();
  const std::optional<uint32_t> leader = cluster.wait_for_leader(20s);
  ASSERT_TRUE(leader) << all_logs(cluster);
  install = {*leader, *leader % 3 + 1, (*leader % 3 + 1) % 3 + 1};
  cluster.kill(install.wiped);
  write_keys(cluster, 0, keys);
  wait_for_final_snapshot(cluster, install.leader);
  before_restart();
  std::filesystem::remove_all(cluster.data_dir(install.wiped));
  if (partial_at_least > 0) slow_link(cluster, install.leader, install.wiped);
  cluster.start(install.wiped);
  if (partial_at_least > 0) {
    ASSERT_TRUE(wait_until([&] { return partial_bytes(cluster, install.wiped) >= partial_at_least; }, 30s))
        << all_logs(cluster);
  }
}

TEST(SnapshotTransfer, AWipedFollowerGetsASnapshotOfManyFramesAndCatchesUp) {
  TestCluster cluster(3, "snap-wiped", small_frames());
  Install in;
  ASSERT_NO_FATAL_FAILURE(start_install(cluster, 300, 0, in));  // ~300 KiB of state: ten frames or more
  const uint32_t wiped = in.wiped;
  ASSERT_TRUE(wait_until([&] { return caught_up(cluster, wiped, in.leader); }, 30s)) << all_logs(cluster);
  write_keys(cluster, 300, 310);  // and it follows the log after the snapshot
  ASSERT_TRUE(wait_until([&] { return caught_up(cluster, wiped, in.leader); }, 30s)) << all_logs(cluster);
  EXPECT_TRUE(log_has(cluster, wiped, "received snapshot")) << cluster.log_tail(wiped);
  EXPECT_GE(logged_counter(cluster, wiped, "chunks received"), 10u) << cluster.log_tail(wiped);
  EXPECT_TRUE(log_has(cluster, in.leader, "sent to node " + std::to_string(wiped)))
      << cluster.log_tail(in.leader);
  EXPECT_FALSE(std::filesystem::exists(cluster.data_dir(wiped) / kPartialSnapshotFile));
  expect_all_keys(cluster, wiped, 310);
}

TEST(SnapshotTransfer, AnInstallInterruptedByKillingTheReceiverResumes) {
  TestCluster cluster(3, "snap-kill-receiver", small_frames());
  Install in;
  ASSERT_NO_FATAL_FAILURE(start_install(cluster, 600, 100 << 10, in));
  const uint32_t wiped = in.wiped;
  cluster.kill(wiped);
  const uint64_t held = partial_bytes(cluster, wiped);
  cluster.start(wiped);
  ASSERT_TRUE(wait_until([&] { return caught_up(cluster, wiped, in.leader); }, 60s)) << all_logs(cluster);
  EXPECT_EQ(logged_counter(cluster, wiped, "transfers resumed"), 1u) << cluster.log_tail(wiped);
  EXPECT_TRUE(log_has(cluster, in.leader, "resumed at byte")) << cluster.log_tail(in.leader);
  // Resumed, not restarted: the second process received exactly what the first had not.
  const uint64_t image_bytes =
      logged_number(cluster, wiped, std::regex(R"(received snapshot at .* \(([0-9]+) bytes\))"));
  EXPECT_EQ(logged_counter(cluster, wiped, "bytes received"), image_bytes - held) << "held " << held << "\n"
                                                                                  << cluster.log_tail(wiped);
  expect_all_keys(cluster, wiped, 600);
}

TEST(SnapshotTransfer, AnInstallInterruptedByKillingTheSenderResumes) {
  TestCluster cluster(3, "snap-kill-sender", small_frames());
  Install in;
  // The leader leads again after its restart and offers the same snapshot (from its directory). It
  // needs the other follower's vote — the wiped node started lost (it ran before in this segment) and
  // votes for no one until repaired — so the other follower comes back with an election timeout long
  // enough that the restarted leader campaigns first.
  ASSERT_NO_FATAL_FAILURE(start_install(cluster, 600, 100 << 10, in, [&] { cluster.kill(in.other); }));
  cluster.kill(in.leader);
  cluster.start(in.leader);
  cluster.options(in.other).election_ticks *= 20;
  cluster.start(in.other);
  ASSERT_TRUE(wait_until([&] { return caught_up(cluster, in.wiped, in.leader); }, 60s)) << all_logs(cluster);
  EXPECT_EQ(logged_counter(cluster, in.wiped, "transfers resumed"), 1u) << cluster.log_tail(in.wiped);
  EXPECT_TRUE(log_has(cluster, in.leader, "resumed at byte")) << cluster.log_tail(in.leader);
  expect_all_keys(cluster, in.wiped, 600);
}

TEST(SnapshotTransfer, AnImageDamagedInThePartialFileIsRefusedAndFetchedAgain) {
  TestCluster cluster(3, "snap-damaged", small_frames());
  Install in;
  ASSERT_NO_FATAL_FAILURE(start_install(cluster, 300, 50 << 10, in));
  cluster.kill(in.wiped);
  {  // one byte of the image, as the disk might return it after a crash
    std::fstream f(cluster.data_dir(in.wiped) / kPartialSnapshotFile,
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(kPartialHeaderBytes + 1000);
    const char old = static_cast<char>(f.get());
    f.seekp(kPartialHeaderBytes + 1000);
    f.put(static_cast<char>(old ^ 0x20));
  }
  cluster.start(in.wiped);
  ASSERT_TRUE(wait_until([&] { return caught_up(cluster, in.wiped, in.leader); }, 60s)) << all_logs(cluster);
  EXPECT_EQ(logged_counter(cluster, in.wiped, "images refused"), 1u) << cluster.log_tail(in.wiped);
  expect_all_keys(cluster, in.wiped, 300);
}

TEST(ForkedSnapshot, ImagesWrittenWhileClientsWriteHoldTheStateAtTheirIndex) {
  TestCluster cluster(3, "snap-forked");
  snapshot_often(cluster);
  for (uint32_t i = 1; i <= 3; ++i) cluster.options(i).fork_snapshot_bytes = 0;  // fork even a small state
  cluster.start_all();
  const std::optional<uint32_t> leader = cluster.wait_for_leader(20s);
  ASSERT_TRUE(leader) << all_logs(cluster);
  constexpr int kKeys = 400;
  write_keys(cluster, 0, kKeys);  // one client, one put after the other: every state is a prefix
  wait_for_final_snapshot(cluster, *leader);
  EXPECT_GE(logged_number(cluster, *leader, std::regex("snapshot at index ([0-9]+) .*written by a child")),
            static_cast<uint64_t>(kKeys - 16))
      << cluster.log_tail(*leader);
  for (uint32_t i = 1; i <= 3; ++i) {
    ASSERT_EQ(cluster.stop(i), 0) << cluster.log_tail(i);
    const storage::NodeStorage storage(cluster.data_dir(i));
    const std::optional<storage::Snapshot> snapshot = storage.load_snapshot();
    ASSERT_TRUE(snapshot) << "node " << i << "\n" << cluster.log_tail(i);
    kv::StateMachine kv;
    kv.restore(snapshot->data);
    EXPECT_EQ(kv.applied_index(), snapshot->meta.last_index) << "node " << i;
    // The image is the state after some put k and before put k+1: keys 0..k, each with its value.
    const std::vector<std::pair<std::string, std::string>> pairs = kv.dump();
    ASSERT_FALSE(pairs.empty()) << "node " << i;
    for (std::size_t k = 0; k < pairs.size(); ++k) {
      const std::string key = "key" + std::to_string(k);
      ASSERT_TRUE(kv.get(key)) << "node " << i << ": " << key << " missing from an image of " << pairs.size()
                               << " keys";
      EXPECT_EQ(*kv.get(key), value_of(static_cast<int>(k)));
    }
    // Each put is one entry after the leader's first (its no-op): the index bounds the keys.
    EXPECT_LE(pairs.size(), snapshot->meta.last_index) << "node " << i;
  }
}

}  // namespace
}  // namespace shmraft::node::testing
