#pragma once
// A follower that lost or damaged its files, on real processes (issue 14): it starts lost, never votes
// while lost, is repaired by the leader (removed, added back as a learner, promoted), votes again, and
// every acknowledged write reads back. Shared by lost_state_test.cpp (a wiped directory) and
// damaged_node_test.cpp (damaged files, set aside at start, and a damaged hard-state slot).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "node/storage/format.h"
#include "tests/cluster/harness.h"

namespace shmraft::cluster_test {

// ---- damage, to the files of a stopped node (its directory) ----

inline void flip_bit_in_file(const std::filesystem::path& file, std::size_t offset, int bit) {
  std::fstream stream(file, std::ios::in | std::ios::out | std::ios::binary);
  char byte = 0;
  stream.seekg(static_cast<std::streamoff>(offset));
  stream.get(byte);
  stream.seekp(static_cast<std::streamoff>(offset));
  stream.put(static_cast<char>(byte ^ (1 << bit)));
  ASSERT_TRUE(stream.good()) << "cannot damage " << file;
}

// The node's segment files, oldest first.
inline std::vector<std::filesystem::path> segments_of(const std::filesystem::path& node_dir) {
  std::vector<std::filesystem::path> segments;
  for (const auto& entry : std::filesystem::directory_iterator(node_dir / "log"))
    segments.push_back(entry.path());
  std::sort(segments.begin(), segments.end());
  return segments;
}

// Flips a bit in the term of the first log record: committed, and followed by valid records, so recovery
// cannot take it for a torn write.
inline void flip_bit_in_first_record(const std::filesystem::path& node_dir) {
  const std::vector<std::filesystem::path> segments = segments_of(node_dir);
  ASSERT_FALSE(segments.empty());
  flip_bit_in_file(segments.front(),
                   sizeof(storage::format::SegmentHeader) + offsetof(storage::format::RecordHeader, term), 2);
}

// Removes a segment between two others: a hole in the committed log.
inline void remove_middle_segment(const std::filesystem::path& node_dir) {
  const std::vector<std::filesystem::path> segments = segments_of(node_dir);
  ASSERT_GE(segments.size(), 3u) << "too few segments to remove one between two";
  std::filesystem::remove(segments[segments.size() / 2]);
}

inline void corrupt_snapshot(const std::filesystem::path& node_dir) {
  const std::filesystem::path snapshot = node_dir / "snap" / "snapshot";
  ASSERT_TRUE(std::filesystem::exists(snapshot)) << "no snapshot to damage";
  flip_bit_in_file(snapshot, std::filesystem::file_size(snapshot) / 2, 3);
}

// Flips a bit in the term of the slot with the higher sequence number: the node falls back to the older.
inline void corrupt_newest_hard_state_slot(const std::filesystem::path& node_dir) {
  const std::filesystem::path meta = node_dir / "meta";
  std::ifstream in(meta, std::ios::binary);
  storage::format::MetaSlot slots[2];
  for (int i = 0; i < 2; ++i) {
    in.seekg(static_cast<std::streamoff>(i * storage::format::kMetaSlotStride));
    in.read(reinterpret_cast<char*>(&slots[i]), sizeof slots[i]);
  }
  ASSERT_TRUE(in.good()) << "cannot read " << meta;
  const std::size_t newest = slots[0].sequence > slots[1].sequence ? 0 : 1;
  flip_bit_in_file(meta,
                   newest * storage::format::kMetaSlotStride + offsetof(storage::format::MetaSlot, term), 0);
}

// ---- the scenario ----

struct Loss {
  std::function<void(const std::filesystem::path& node_dir)> apply;
  std::string in_log;  // what the lost node's log must say about it
};

// About 1 KiB per value, so that a few writes fill several small segments.
inline std::string padded_value_of(const std::string& key) {
  std::string value(1, 'v');
  return value.append(key).append(1000, '.');
}

// A 3-node cluster takes 20 writes; a follower is stopped, `loss` applied to its directory, and it is
// started again while the other follower is down. The leader cannot commit its removal then (a majority
// of the remaining voters is needed); once the leader is gone as well, the other follower and the lost
// node are two of three, but the lost node's vote is what they would need: the cluster must stay without
// a leader rather than elect one with a vote that may repeat one the node gave before its loss. Then the
// leader comes back and repairs it; repaired, it votes again, and every acknowledged write reads back.
inline void expect_lost_then_repaired(const std::string& label, const TestCluster::Options& options,
                                      const Loss& loss) {
  using namespace std::chrono_literals;
  TestCluster cluster(label, options);
  const uint32_t leader = cluster.wait_for_leader();
  const uint32_t lost = leader % cluster.nodes() + 1;
  const uint32_t other = lost % cluster.nodes() + 1;
  ASSERT_NE(other, leader);
  const auto key_of = [](int i) { return std::string(1, 'k').append(std::to_string(i)); };
  const auto put = [&](const std::string& key) { return cluster.kv({"put", key, padded_value_of(key)}); };
  for (int i = 0; i < 20; ++i) ASSERT_EQ(put(key_of(i)).exit_code, 0);
  cluster.wait_for_catch_up(20000ms);

  ASSERT_EQ(cluster.run("kill", {std::to_string(other)}).exit_code, 0);
  ASSERT_EQ(cluster.run("kill", {std::to_string(lost)}).exit_code, 0);
  const std::filesystem::path lost_dir = cluster.data_root() / ("node" + std::to_string(lost));
  ASSERT_NO_FATAL_FAILURE(loss.apply(lost_dir));
  const CommandResult restart = cluster.run("restart", {std::to_string(lost)});
  ASSERT_EQ(restart.exit_code, 0) << restart.describe();
  const std::filesystem::path lost_log = lost_dir / "node.log";
  ASSERT_TRUE(
      eventually([&] { return read_file(lost_log).find("lost state") != std::string::npos; }, 10000ms))
      << "node " << lost << " did not start lost:\n"
      << read_file(lost_log);
  EXPECT_NE(read_file(lost_log).find(loss.in_log), std::string::npos) << read_file(lost_log);
  std::this_thread::sleep_for(1s);  // it hears the leader, which proposes its removal (not committable)

  ASSERT_EQ(cluster.run("kill", {std::to_string(leader)}).exit_code, 0);
  ASSERT_EQ(cluster.run("restart", {std::to_string(other)}).exit_code, 0);
  // Many election timeouts: without the rule the lost node wins with the other follower's vote, or the
  // other follower wins with the lost node's.
  const auto deadline = std::chrono::steady_clock::now() + 4s;
  while (std::chrono::steady_clock::now() < deadline) {
    ASSERT_FALSE(cluster.leader()) << "a leader was elected with the vote of node " << lost
                                   << ", which lost its state:\n"
                                   << cluster.status().dump(1);
    std::this_thread::sleep_for(100ms);
  }

  // The old leader comes back: it and the other follower elect, commit the removal, add the lost node
  // back as a learner, catch it up and promote it.
  ASSERT_EQ(cluster.run("restart", {std::to_string(leader)}).exit_code, 0);
  cluster.wait_for_leader(20000ms);
  ASSERT_EQ(put("after").exit_code, 0);
  cluster.wait_for_catch_up(20000ms);
  uint64_t repairs = 0;
  EXPECT_TRUE(eventually(
      [&] {
        repairs = 0;
        for (const auto& node : cluster.status_nodes()) repairs += node.value("repairs", uint64_t{0});
        return repairs >= 1 && cluster.status_of(lost)["lost"].get<uint64_t>() == 0;
      },
      20000ms))
      << "node " << lost << " was not repaired:\n"
      << cluster.status().dump(1);
  EXPECT_NE(read_file(lost_log).find("repaired"), std::string::npos) << read_file(lost_log);

  // Repaired, it is a voter again: with the other follower down, it and the leader commit.
  const uint32_t now_leader = cluster.wait_for_leader();
  const uint32_t down = now_leader == other ? leader : other;
  ASSERT_NE(down, lost);
  ASSERT_EQ(cluster.run("kill", {std::to_string(down)}).exit_code, 0);
  const CommandResult last = put("last");
  ASSERT_EQ(last.exit_code, 0) << "node " << lost << " was not promoted back to voter:\n"
                               << last.describe() << cluster.status().dump(1);
  for (int i = 0; i < 20; ++i) {
    const std::string key = key_of(i);
    const CommandResult get = cluster.kv({"get", key});
    EXPECT_EQ(get.out, padded_value_of(key) + '\n')
        << "acknowledged write " << key << " lost: " << get.describe();
  }
  EXPECT_EQ(cluster.kv({"get", "after"}).out, padded_value_of("after") + '\n');
}

}  // namespace shmraft::cluster_test
