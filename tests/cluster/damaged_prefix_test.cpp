// A follower with a bit flipped in the middle of its log, on real processes (issue 14): it keeps the
// verified prefix of its log (node/storage/recovery.cpp), starts lost, votes on nothing, and the leader's
// ordinary probe repairs the suffix with entries — no snapshot, although the leader holds one and an empty
// follower would have needed it. Every acknowledged write reads back, and the repaired node is a voter
// again. It prints what the repair re-sent beside what setting everything aside would have cost.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "node/storage/format.h"
#include "node/storage/node_storage.h"
#include "tests/cluster/lost_repair.h"

namespace shmraft::cluster_test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Flips a bit in the payload of entry `index` of the stopped node in `node_dir`; false if no segment
// holds it.
bool flip_bit_in_entry(const fs::path& node_dir, uint64_t index) {
  for (const fs::path& segment : segments_of(node_dir)) {
    const std::string bytes = read_file(segment);
    std::size_t offset = sizeof(storage::format::SegmentHeader);
    while (bytes.size() - offset >= sizeof(storage::format::RecordHeader)) {
      storage::format::RecordHeader header;
      std::memcpy(&header, bytes.data() + offset, sizeof header);
      if (header.index == 0) break;
      if (header.index == index) {
        flip_bit_in_file(segment, offset + sizeof header + header.length / 2, 3);
        return true;
      }
      offset += storage::format::record_bytes(header.length);
    }
  }
  return false;
}

TEST(DamagedPrefix, AFollowerWithABitFlipInTheMiddleOfItsLogKeepsItsPrefixAndIsRepairedWithEntries) {
  TestCluster::Options options;
  // Segments of 8 KiB hold about seven 1 KiB writes; a snapshot every ~16 writes compacts the logs, so an
  // empty follower would need one.
  options.node_args = {"--segment-bytes", "8192", "--snapshot-bytes", "16384"};
  TestCluster cluster("damaged-prefix", options);
  const uint32_t leader = cluster.wait_for_leader(20000ms);
  const uint32_t follower = leader % cluster.nodes() + 1;
  const uint32_t other = follower % cluster.nodes() + 1;
  const auto key_of = [](int i) { return std::string("k").append(std::to_string(i)); };
  // Each node snapshots at its own points (snapshot_stagger.h). Write until the follower has taken a
  // snapshot and both it and the leader hold at least 6 committed entries above their latest, so the flip
  // lands in entries the leader can still send.
  const auto latest_snapshot = [&](uint32_t node) {  // the last snapshot its child wrote, 0 for none
    static const std::regex written(R"(snapshot at index (\d+) \(\d+ bytes, written by a child)");
    const std::string log = read_file(cluster.data_root() / ("node" + std::to_string(node)) / "node.log");
    uint64_t index = 0;
    for (auto it = std::sregex_iterator(log.begin(), log.end(), written); it != std::sregex_iterator(); ++it)
      index = std::stoull((*it)[1]);
    return index;
  };
  int keys = 0;
  uint64_t committed = 0;
  while (keys < 30 || latest_snapshot(follower) == 0 ||
         committed < std::max(latest_snapshot(follower), latest_snapshot(leader)) + 6) {
    ASSERT_LT(keys, 80) << "node " << follower << " took no snapshot with room above it in 80 writes";
    ASSERT_EQ(cluster.kv({"put", key_of(keys), padded_value_of(key_of(keys))}).exit_code, 0);
    ++keys;
    if (keys < 30) continue;
    committed = cluster.wait_for_catch_up(20000ms);
    std::this_thread::sleep_for(200ms);  // a snapshot's child may still be writing (its line comes after)
  }
  const uint64_t leader_snapshot = latest_snapshot(leader);

  ASSERT_EQ(cluster.run("kill", {std::to_string(follower)}).exit_code, 0);
  const fs::path dir = cluster.data_root() / ("node" + std::to_string(follower));
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t snapshot = 0;
  {
    const storage::NodeStorage stored(dir);
    first = stored.first_index();
    last = stored.last_index();
    snapshot = stored.snapshot_meta() ? stored.snapshot_meta()->last_index : 0;
  }
  ASSERT_GT(snapshot, 0u) << "the follower took no snapshot: an empty one would not need one";
  ASSERT_GT(first, 1u) << "its log was not compacted (nor, then, the leader's)";
  const uint64_t lowest = std::max({first, snapshot + 1, leader_snapshot + 1});
  ASSERT_GE(last, lowest + 4) << "too short a log above the snapshot: [" << first << ", " << last << "]";
  const uint64_t damaged = (lowest + last) / 2;  // committed, with intact records after it
  ASSERT_TRUE(flip_bit_in_entry(dir, damaged));
  std::cout << "node " << follower << ": log [" << first << ", " << last << "], snapshot " << snapshot
            << ", bit flipped in entry " << damaged << std::endl;

  ASSERT_EQ(cluster.run("restart", {std::to_string(follower)}).exit_code, 0);
  const fs::path log_file = dir / "node.log";
  ASSERT_TRUE(
      eventually([&] { return read_file(log_file).find("lost state") != std::string::npos; }, 10000ms))
      << read_file(log_file);
  const std::string started = read_file(log_file);
  EXPECT_NE(started.find("kept the log through entry " + std::to_string(damaged - 1)), std::string::npos)
      << started;
  EXPECT_NE(started.find("log [" + std::to_string(first) + ", " + std::to_string(damaged - 1) + "]"),
            std::string::npos)
      << "the node starts with its prefix:\n"
      << started;

  // The leader removes it, adds it back, catches it up from where its log ends and promotes it (the last
  // step counts in `repairs`).
  EXPECT_TRUE(eventually(
      [&] {
        uint64_t repairs = 0;
        for (const auto& node : cluster.status_nodes()) repairs += node.value("repairs", uint64_t{0});
        return repairs >= 1 && cluster.status_of(follower)["lost"].get<uint64_t>() == 0;
      },
      30000ms))
      << "node " << follower << " was not repaired:\n"
      << cluster.status().dump(1);
  const uint32_t now_leader = cluster.wait_for_leader(20000ms);
  for (uint32_t node = 1; node <= cluster.nodes(); ++node) {
    const std::string log = read_file(cluster.data_root() / ("node" + std::to_string(node)) / "node.log");
    EXPECT_EQ(log.find("sent to node " + std::to_string(follower) + " in"), std::string::npos)
        << "node " << node << " repaired it with a snapshot:\n"
        << log;
  }
  EXPECT_EQ(read_file(log_file).find("received snapshot at index"), std::string::npos) << read_file(log_file);

  // A voter again: with the other follower down, the leader commits with it.
  const uint32_t down = now_leader == other ? leader : other;
  ASSERT_NE(down, follower);
  ASSERT_EQ(cluster.run("kill", {std::to_string(down)}).exit_code, 0);
  const CommandResult after = cluster.kv({"put", "after", "repair"}, 20s);
  ASSERT_EQ(after.exit_code, 0) << after.describe() << cluster.status().dump(1);
  for (int i = 0; i < keys; ++i) {
    const CommandResult get = cluster.kv({"get", key_of(i)});
    EXPECT_EQ(get.out, padded_value_of(key_of(i)) + '\n') << "acknowledged write lost: " << get.describe();
  }

  // What the repair re-sent (the payloads of the entries from the damaged one on), beside what setting
  // everything aside would have cost (the leader's snapshot and the entries after the snapshot index).
  std::error_code unknown;
  const uint64_t snapshot_bytes = fs::file_size(
      cluster.data_root() / ("node" + std::to_string(now_leader)) / "snap" / "snapshot", unknown);
  ASSERT_EQ(cluster.run("kill", {std::to_string(follower)}).exit_code, 0);
  const storage::NodeStorage repaired(dir);
  const auto payload_bytes = [&](uint64_t from) {
    uint64_t bytes = 0;
    for (uint64_t i = std::max(from, repaired.first_index()); i <= repaired.last_index(); ++i)
      bytes += repaired.entry(i).payload.size();
    return bytes;
  };
  std::cout << "repair of node " << follower << ": entries " << damaged << ".." << repaired.last_index()
            << " (" << payload_bytes(damaged)
            << " payload bytes), no snapshot; set aside whole: the leader's "
            << "snapshot (" << snapshot_bytes << " bytes) and entries " << snapshot + 1 << ".."
            << repaired.last_index() << " (" << payload_bytes(snapshot + 1) << " payload bytes)" << std::endl;
}

}  // namespace
}  // namespace shmraft::cluster_test
