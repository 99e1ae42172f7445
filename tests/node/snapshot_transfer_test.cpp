// Snapshots of real node processes. Chunked InstallSnapshot: a wiped follower gets a snapshot many peer
// frames long and catches up; an install interrupted by SIGKILL of the receiver or of the sender resumes
// (the counters say so) rather than restarting; an image damaged in the partial file is refused and
// fetched again, and one damaged in the leader's own file makes the leader take a new snapshot. Forked
// snapshots: every snapshot is written by a child (none on the loop) and holds exactly the state at its
// index; in-process, a node or child SIGKILLed around the child's write and the loop's rename leaves a
// directory that opens with the old snapshot or the new one, whole; the removed threshold flag is refused
// naming why. Label `cluster`, run serially.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <string>
#include <thread>

#include "launcher/client/client.h"
#include "node/kv/state_machine.h"
#include "node/process/forked_snapshot.h"
#include "node/process/node_options.h"
#include "node/process/node_process.h"
#include "node/process/snapshot_receiver.h"
#include "node/storage/format.h"
#include "node/storage/node_storage.h"
#include "tests/node/test_cluster.h"
#include "tests/temp_dir.h"

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

// The lines of the node's log (every run of it: the file is appended to) that hold `text`.
int log_lines_with(TestCluster& cluster, uint32_t node, const std::string& text) {
  std::ifstream log(cluster.options(node).effective_log_file());
  int lines = 0;
  for (std::string line; std::getline(log, line);)
    if (line.find(text) != std::string::npos) ++lines;
  return lines;
}

bool log_has(TestCluster& cluster, uint32_t node, const std::string& text) {
  return log_lines_with(cluster, node, text) > 0;
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

// The leader publishes its counters at the end of an iteration, after it answered the client: right after
// the last put its commit counter can lag by that entry. Its log's end does not (the entry was appended,
// and published, an iteration before the followers' answers committed it), so wait for both to agree.
bool caught_up(TestCluster& cluster, uint32_t node, uint32_t leader) {
  const ipc::NodeCountersSnapshot theirs = cluster.segment().node_counters(leader).snapshot();
  return theirs.commit_index == theirs.last_index &&
         cluster.segment().node_counters(node).snapshot().applied_index >= theirs.commit_index;
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
  // At least once: on a loaded host the leader's wait for an answer can run out and its offer come again,
  // which resumes at the same byte a second time (seen once at load 15: "transfers resumed 2").
  EXPECT_GE(logged_counter(cluster, wiped, "transfers resumed"), 1u) << cluster.log_tail(wiped);
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
  // The leader usually leads again after its restart and offers the same snapshot (from its directory). It
  // needs the other follower's vote — the wiped node started lost (it ran before in this segment) and
  // votes for no one until repaired — so the other follower comes back with an election timeout long
  // enough that the restarted leader campaigns first. It dies only once the transfer runs: dead before the
  // wiped node answered, it left the leader without a quorum for longer than CheckQuorum allows whenever
  // that start took over an election timeout (TSan: the leader stepped down and no one could lead).
  ASSERT_NO_FATAL_FAILURE(start_install(cluster, 600, 100 << 10, in));
  cluster.kill(in.other);
  cluster.kill(in.leader);
  cluster.start(in.leader);
  cluster.options(in.other).election_ticks *= 20;
  cluster.start(in.other);
  ASSERT_TRUE(wait_until([&] { return caught_up(cluster, in.wiped, in.leader); }, 60s)) << all_logs(cluster);
  EXPECT_EQ(logged_counter(cluster, in.wiped, "transfers resumed"), 1u) << cluster.log_tail(in.wiped);
  // Sent resumed exactly once, by whichever node leads after the restarts: under load the other
  // follower can win the election despite its longer timeout, and then it resumes the transfer.
  int resumes_sent = 0;
  for (uint32_t node = 1; node <= cluster.nodes(); ++node)
    resumes_sent += log_lines_with(cluster, node, "resumed at byte");
  EXPECT_EQ(resumes_sent, 1) << all_logs(cluster);
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

// A bit flips in the leader's own snapshot file after it was written: the follower refuses the image whole
// each time, the leader checks its file after kRefusalsBeforeCheck refusals, finds it damaged and takes a
// new snapshot of its applied state at once, which the follower installs. Nothing is written meanwhile:
// without the new snapshot the follower would wait for --snapshot-bytes more of log, here forever.
TEST(SnapshotTransfer, ALeaderWhoseSnapshotFileIsDamagedTakesANewOneAndTheFollowerCatchesUp) {
  TestCluster cluster(3, "snap-leader-damaged", small_frames());
  Install in;
  ASSERT_NO_FATAL_FAILURE(start_install(cluster, 300, 0, in, [&] {
    std::fstream f(
        cluster.data_dir(in.leader) / storage::format::kSnapshotDirName / storage::format::kSnapshotFileName,
        std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(sizeof(storage::format::SnapshotHeader) + 1000);
    const char old = static_cast<char>(f.get());
    f.seekp(sizeof(storage::format::SnapshotHeader) + 1000);
    f.put(static_cast<char>(old ^ 0x20));
  }));
  ASSERT_TRUE(wait_until([&] { return caught_up(cluster, in.wiped, in.leader); }, 60s)) << all_logs(cluster);
  EXPECT_TRUE(log_has(cluster, in.leader, "fails its CRC")) << cluster.log_tail(in.leader);
  EXPECT_GE(logged_counter(cluster, in.wiped, "images refused"), 1u) << cluster.log_tail(in.wiped);
  expect_all_keys(cluster, in.wiped, 300);
}

// As above, but the leader's first child to replace the damaged snapshot fails (its staged file's name is
// taken by a directory: the child cannot open it, even as root). The damage still counts as unanswered:
// once the obstacle is gone the leader tries again and the follower catches up, nothing written meanwhile.
TEST(SnapshotTransfer, ALeaderWhoseReplacementOfADamagedSnapshotFailsTriesAgain) {
  TestCluster cluster(3, "snap-leader-retry", small_frames());
  Install in;
  std::filesystem::path obstacle;
  ASSERT_NO_FATAL_FAILURE(start_install(cluster, 300, 0, in, [&] {
    const std::filesystem::path snap = cluster.data_dir(in.leader) / storage::format::kSnapshotDirName;
    std::fstream f(snap / storage::format::kSnapshotFileName,
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(sizeof(storage::format::SnapshotHeader) + 1000);
    const char old = static_cast<char>(f.get());
    f.seekp(sizeof(storage::format::SnapshotHeader) + 1000);
    f.put(static_cast<char>(old ^ 0x20));
    obstacle = snap / "snapshot.staged";
    std::filesystem::create_directory(obstacle);
    std::ofstream(obstacle / "keep") << "not empty: the failed child's clean-up cannot remove it";
  }));
  ASSERT_TRUE(wait_until([&] { return log_has(cluster, in.leader, "the snapshot child for index"); }, 60s))
      << all_logs(cluster);
  std::filesystem::remove_all(obstacle);
  ASSERT_TRUE(wait_until([&] { return caught_up(cluster, in.wiped, in.leader); }, 30s)) << all_logs(cluster);
  EXPECT_TRUE(log_has(cluster, in.leader, "to replace the damaged one, in 1 s"))
      << cluster.log_tail(in.leader);
  expect_all_keys(cluster, in.wiped, 300);
}

// The follower restores a whole image off its loop (snapshot_installer.h): meanwhile its loop runs and
// answers the leader's heartbeats, and nothing of the old state is touched; killed then, it opens with
// its old snapshot and log, and a restart installs the image it holds whole without a byte sent again.
TEST(SnapshotTransfer, AFollowerKilledWhileRestoringOffTheLoopKeepsItsOldStateThenInstallsTheImage) {
  TestCluster cluster(3, "snap-kill-restore", small_frames());
  snapshot_often(cluster);
  cluster.start_all();
  const std::optional<uint32_t> leader = cluster.wait_for_leader(20s);
  ASSERT_TRUE(leader) << all_logs(cluster);
  const uint32_t follower = *leader % 3 + 1;
  write_keys(cluster, 0, 100);
  const std::regex stored(R"(snapshot at index ([0-9]+) \(.*written by a child)");
  ASSERT_TRUE(wait_until([&] { return logged_number(cluster, follower, stored) > 0; }, 30s))
      << all_logs(cluster);
  // The writes were acknowledged by a majority, which need not be this follower: it must hold all 100.
  ASSERT_TRUE(wait_until([&] { return caught_up(cluster, follower, *leader); }, 30s)) << all_logs(cluster);
  cluster.kill(follower);
  write_keys(cluster, 100, 400);  // the leader compacts past the follower's log: it needs a snapshot
  wait_for_final_snapshot(cluster, *leader);
  const uint64_t leaders_snapshot = logged_number(cluster, *leader, stored);

  cluster.options(follower).testing_install_delay_ms = 3000;
  cluster.start(follower);
  ASSERT_TRUE(wait_until([&] { return log_has(cluster, follower, "installing it off the loop"); }, 30s))
      << all_logs(cluster);
  // The loop runs while the installer waits: it publishes its counters each turn, with the leader's term.
  const uint64_t before = cluster.segment().node_counters(follower).snapshot().updated_ns;
  std::this_thread::sleep_for(300ms);
  const auto now = cluster.segment().node_counters(follower).snapshot();
  EXPECT_GT(now.updated_ns, before) << "the loop stood still during the restore";
  EXPECT_EQ(now.leader, *leader);
  EXPECT_LT(now.applied_index, leaders_snapshot) << "the core was told too early";
  cluster.kill(follower);  // in the middle of the install

  // Its own snapshot (it may have taken a newer one of its log since the restart) and its log, whole;
  // the received image waits in the partial file, nothing of it in snap/.
  EXPECT_FALSE(std::filesystem::exists(cluster.data_dir(follower) / "snap" / "snapshot.staged"));
  {
    const storage::NodeStorage storage(cluster.data_dir(follower));
    ASSERT_TRUE(storage.snapshot_meta());
    EXPECT_LT(storage.snapshot_meta()->last_index, leaders_snapshot);
  }
  EXPECT_TRUE(std::filesystem::exists(cluster.data_dir(follower) / kPartialSnapshotFile));
  const std::map<std::string, std::string> old_state = replay_kv_state(cluster.data_dir(follower));
  EXPECT_GE(old_state.size(), 100u);
  for (const auto& [key, value] : old_state) EXPECT_EQ(value, value_of(std::stoi(key.substr(3)))) << key;

  cluster.options(follower).testing_install_delay_ms = 0;
  cluster.start(follower);
  ASSERT_TRUE(wait_until([&] { return caught_up(cluster, follower, *leader); }, 60s)) << all_logs(cluster);
  EXPECT_TRUE(log_has(cluster, follower, "bytes received 0,")) << "the whole image was kept, not sent again\n"
                                                               << cluster.log_tail(follower);
  EXPECT_TRUE(log_has(cluster, follower, "installed snapshot at index")) << cluster.log_tail(follower);
  EXPECT_FALSE(std::filesystem::exists(cluster.data_dir(follower) / kPartialSnapshotFile));
  expect_all_keys(cluster, follower, 400);
}

TEST(ForkedSnapshot, ImagesWrittenWhileClientsWriteHoldTheStateAtTheirIndex) {
  TestCluster cluster(3, "snap-forked");
  snapshot_often(cluster);
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
  // No snapshot work on the loop: every snapshot a node took (not one installed from the leader) was
  // written by a child, the loop only forked, renamed and compacted (its pauses are in the same line).
  const std::regex by_a_child(
      "written by a child in [0-9]+ ms; the loop paused [0-9]+ us to fork, [0-9]+ us to install and [0-9]+ "
      "us "
      "to compact");
  for (uint32_t i = 1; i <= 3; ++i) {
    std::ifstream log(cluster.options(i).effective_log_file());
    int snapshots = 0;
    for (std::string line; std::getline(log, line);) {
      if (line.find("snapshot at index") == std::string::npos ||
          line.find("installed snapshot at index") != std::string::npos)
        continue;
      ++snapshots;
      EXPECT_TRUE(std::regex_search(line, by_a_child)) << "node " << i << ": " << line;
    }
    // The leader's last was waited for; a follower may still be writing its first.
    if (i == *leader) {
      EXPECT_GE(snapshots, 1) << cluster.log_tail(i);
    }
  }
}

// ---- in process: crashes around the child's write and the loop's rename ----

constexpr uint64_t kLogEntries = 300;
constexpr uint64_t kOldIndex = 100;  // the snapshot the directory holds
constexpr uint64_t kNewIndex = 250;  // the one a child writes

// The state after puts 1..index, put i writing key<i> with `value_bytes` bytes.
kv::StateMachine state_at(uint64_t index, std::size_t value_bytes = 64) {
  kv::StateMachine kv;
  for (uint64_t i = 1; i <= index; ++i) {
    const std::string key = "key" + std::to_string(i);
    const std::string value(value_bytes, static_cast<char>('a' + i % 26));
    kv::Command put;
    put.op = kv::Op::put;
    put.key = key;
    put.value = value;
    kv.apply(i, put);
  }
  return kv;
}

storage::SnapshotMeta meta_at(uint64_t index) {
  return {.last_index = index, .last_term = 1, .voters = 0b1110};
}

constexpr storage::Options kSmallSegments{.segment_bytes = 16 << 10};

// Entries 1..kLogEntries in several segments, and the snapshot at kOldIndex.
void prepare(const std::filesystem::path& dir) {
  storage::NodeStorage storage(dir, kSmallSegments);
  const std::string payload(100, 'p');
  for (uint64_t i = 1; i <= kLogEntries; ++i) {
    const storage::LogEntry entry{i, 1, std::as_bytes(std::span(payload)), 0};
    storage.append({&entry, 1});
  }
  storage.sync();
  storage.save_snapshot(meta_at(kOldIndex), state_at(kOldIndex).snapshot());
}

// A node crashing here: no destructor runs (ForkedSnapshot's would kill its child and remove the file).
[[noreturn]] void crash_here() {
  ::raise(SIGKILL);
  _exit(3);
}

// Runs `work`, which ends in crash_here(), in a process of its own.
void run_until_crash(const std::function<void()>& work) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      work();
    } catch (...) {
    }
    _exit(2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the work failed before the crash (status " << status << ")";
}

// Waits for the child of ForkedSnapshot to report; returns what it said.
ForkedSnapshot::Status wait_for_child(ForkedSnapshot& forked) {
  ForkedSnapshot::Status status;
  while ((status = forked.poll()) == ForkedSnapshot::Status::kRunning) std::this_thread::sleep_for(1ms);
  return status;
}

ForkedSnapshot forked_snapshot(const storage::NodeStorage& storage) {
  return ForkedSnapshot(storage.snapshot_staging_file(), storage.snapshot_file(), true);
}

// The prepared directory, open, and a child that wrote the snapshot at kNewIndex whole (kWritten seen).
struct Written {
  storage::NodeStorage storage;
  ForkedSnapshot forked;

  explicit Written(const std::filesystem::path& dir)
      : storage(dir, kSmallSegments), forked(forked_snapshot(storage)) {
    forked.start(state_at(kNewIndex), meta_at(kNewIndex));
    if (wait_for_child(forked) != ForkedSnapshot::Status::kWritten)
      throw std::runtime_error("the child failed");
  }
};

// The snapshot the directory opens with, and that it is `index`'s state, whole.
void expect_snapshot(const storage::NodeStorage& storage, uint64_t index) {
  ASSERT_EQ(storage.snapshot_meta(), meta_at(index));
  const std::optional<storage::Snapshot> snapshot = storage.load_snapshot();  // checks its CRC
  ASSERT_TRUE(snapshot);
  kv::StateMachine kv;
  kv.restore(snapshot->data);
  EXPECT_EQ(kv.applied_index(), index);
  EXPECT_EQ(kv.dump(), state_at(index).dump());
}

bool noted(const storage::NodeStorage& storage, const std::string& text) {
  for (const std::string& note : storage.recovery().notes)
    if (note.find(text) != std::string::npos) return true;
  return false;
}

TEST(ForkedSnapshot, TheInstalledFileIsTheStateAtItsIndexAndTheLogAfterItStays) {
  const shmraft::testing::TempDir dir("snap-forked-install");
  prepare(dir.path());
  {
    Written written(dir.path());
    written.storage.install_snapshot_file(meta_at(kNewIndex));
    written.forked.installed();
    ASSERT_EQ(wait_for_child(written.forked), ForkedSnapshot::Status::kDone);
    written.storage.compact(kNewIndex);
    EXPECT_GT(written.storage.first_index(), kOldIndex);  // segments went
    EXPECT_FALSE(std::filesystem::exists(written.storage.snapshot_staging_file()));
  }
  const storage::NodeStorage reopened(dir.path(), kSmallSegments);
  expect_snapshot(reopened, kNewIndex);
  EXPECT_EQ(reopened.last_index(), kLogEntries);
  EXPECT_EQ(reopened.term(kNewIndex + 1), 1u);
  EXPECT_EQ(
      std::filesystem::status(dir.path() / "snap" / "snapshot").permissions() & std::filesystem::perms::all,
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(ForkedSnapshot, ANodeKilledBeforeTheRenameOpensWithTheOldSnapshotAndNoStagedFile) {
  const shmraft::testing::TempDir dir("snap-forked-before-rename");
  prepare(dir.path());
  run_until_crash([&] {
    const Written written(dir.path());
    crash_here();
  });
  const storage::NodeStorage reopened(dir.path(), kSmallSegments);
  expect_snapshot(reopened, kOldIndex);
  EXPECT_TRUE(noted(reopened, "snapshot.staged: removed")) << "no note of the staged file";
  EXPECT_FALSE(std::filesystem::exists(reopened.snapshot_staging_file()));
  EXPECT_EQ(reopened.last_index(), kLogEntries);
}

TEST(ForkedSnapshot, ANodeKilledAfterTheRenameBeforeCompactingOpensWithTheNewSnapshotAndItsLog) {
  const shmraft::testing::TempDir dir("snap-forked-after-rename");
  prepare(dir.path());
  run_until_crash([&] {
    Written written(dir.path());
    written.storage.install_snapshot_file(meta_at(kNewIndex));
    crash_here();
  });
  const storage::NodeStorage reopened(dir.path(), kSmallSegments);
  expect_snapshot(reopened, kNewIndex);
  EXPECT_EQ(reopened.last_index(), kLogEntries);
  EXPECT_EQ(reopened.term(kNewIndex + 1), 1u);
}

TEST(ForkedSnapshot, ANodeKilledWhileItsChildWritesLeavesADirectoryThatOpensWithTheOldSnapshot) {
  const shmraft::testing::TempDir dir("snap-forked-mid-write");
  prepare(dir.path());
  // A state large enough (16 MiB) that the child is still serialising or writing when the node dies.
  const kv::StateMachine big = state_at(kNewIndex, 64 << 10);
  run_until_crash([&] {
    storage::NodeStorage storage(dir.path(), kSmallSegments);
    ForkedSnapshot forked = forked_snapshot(storage);
    forked.start(big, meta_at(kNewIndex));
    std::this_thread::sleep_for(5ms);
    crash_here();
  });
  // The child closes what it inherited, the directory's lock among them, as soon as it runs, and dies
  // with the node (PR_SET_PDEATHSIG); one killed before it ran holds the lock until it is gone.
  std::optional<storage::NodeStorage> reopened;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!reopened) {
    try {
      reopened.emplace(dir.path(), kSmallSegments);
    } catch (const storage::StorageError& e) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "the orphaned child still holds it: " << e.what();
      std::this_thread::sleep_for(10ms);
    }
  }
  expect_snapshot(*reopened, kOldIndex);
  EXPECT_EQ(reopened->last_index(), kLogEntries);
}

TEST(ForkedSnapshot, AChildThatCannotWriteIsReportedAndLeavesNoFile) {
  const shmraft::testing::TempDir dir("snap-forked-fails");
  ForkedSnapshot forked(dir.path() / "no-such-dir" / "snapshot.staged", dir.path() / "snapshot", true);
  forked.start(state_at(10), meta_at(10));
  EXPECT_EQ(wait_for_child(forked), ForkedSnapshot::Status::kFailed);
  EXPECT_EQ(forked.exit_code(), 1);  // writing
  EXPECT_EQ(forked.poll(), ForkedSnapshot::Status::kIdle);
}

TEST(ForkedSnapshot, TheRemovedThresholdFlagIsRefusedNamingWhy) {
  CLI::App app("node");
  NodeOptions options;
  add_node_flags(app, options);
  try {
    app.parse(std::vector<std::string>{"0", "--fork-snapshot-bytes", "/tmp/d", "--data-dir", "1", "--node",
                                       "demo", "--cluster"});  // CLI11 takes them in reverse order
    FAIL() << "--fork-snapshot-bytes was accepted";
  } catch (const CLI::ValidationError& e) {
    EXPECT_NE(std::string(e.what()).find("every snapshot is now written by a forked child"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace shmraft::node::testing
