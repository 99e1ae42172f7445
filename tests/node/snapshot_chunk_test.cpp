// The chunk frame codec (node/process/snapshot_chunk.h): round trips, and every malformed frame refused.
#include "node/process/snapshot_chunk.h"

#include <gtest/gtest.h>

#include <vector>

#include "node/raft/codec.h"

namespace shmraft::node {
namespace {

std::vector<std::byte> bytes_of(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

ChunkFrame data_frame(std::span<const std::byte> data) {
  ChunkFrame f;
  f.kind = ChunkKind::kData;
  f.from = 1;
  f.to = 3;
  f.term = 7;
  f.id = {1234, 6, 100, 0xDEADBEEF, 0b1110, 0b10000, 4, 77};  // voters 1-3, learner 4 being repaired
  f.offset = 40;
  f.data = data;
  return f;
}

std::vector<std::byte> encoded(const ChunkFrame& f) {
  std::vector<std::byte> out(encoded_size(f));
  EXPECT_TRUE(encode(f, out));
  return out;
}

TEST(SnapshotChunk, DataRoundTripsAndKeepsItsCrc) {
  const std::vector<std::byte> data = bytes_of("twenty bytes of data");
  const std::vector<std::byte> wire = encoded(data_frame(data));
  ASSERT_TRUE(is_chunk_frame(wire));
  const std::optional<ChunkFrame> back = decode_chunk(wire);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->kind, ChunkKind::kData);
  EXPECT_EQ(back->from, 1u);
  EXPECT_EQ(back->to, 3u);
  EXPECT_EQ(back->term, 7u);
  EXPECT_EQ(back->id, (SnapshotId{1234, 6, 100, 0xDEADBEEF, 0b1110, 0b10000, 4, 77}));
  EXPECT_EQ(back->offset, 40u);
  EXPECT_TRUE(std::equal(back->data.begin(), back->data.end(), data.begin(), data.end()));
  EXPECT_TRUE(intact(*back));
}

// The repair mark reaches the core with the configuration: a lost node caught up by a chunked snapshot
// learns it is being repaired (node/raft/core.h, "Lost state").
TEST(SnapshotChunk, TheRepairMarkReachesTheConfState) {
  const std::vector<std::byte> data = bytes_of("x");
  const std::optional<ChunkFrame> back = decode_chunk(encoded(data_frame(data)));
  ASSERT_TRUE(back);
  const raft::ConfState conf = back->id.conf_state();
  EXPECT_EQ(conf.voters, raft::NodeSet::from_bits(0b1110));
  EXPECT_EQ(conf.learners, raft::NodeSet::from_bits(0b10000));
  EXPECT_EQ(conf.repairing, 4u);
  EXPECT_EQ(conf.repair_incarnation, 77u);

  ChunkFrame no_repair = data_frame(data);
  no_repair.id.repairing = 0;
  no_repair.id.repair_incarnation = 0;
  const std::optional<ChunkFrame> plain = decode_chunk(encoded(no_repair));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->id.conf_state().repairing, 0u);
  EXPECT_EQ(plain->id.conf_state().repair_incarnation, 0u);
}

TEST(SnapshotChunk, AFlippedDataByteFailsTheChunkCrc) {
  const std::vector<std::byte> data = bytes_of("twenty bytes of data");
  std::vector<std::byte> wire = encoded(data_frame(data));
  wire[kChunkHeaderBytes + 3] ^= std::byte{0x10};
  const std::optional<ChunkFrame> back = decode_chunk(wire);
  ASSERT_TRUE(back);
  EXPECT_FALSE(intact(*back));
}

TEST(SnapshotChunk, RaftFramesAreNotChunkFrames) {
  const raft::Message m = raft::Heartbeat{1, 2, 3, 4, 0};
  std::vector<std::byte> wire(raft::encoded_size(m));
  ASSERT_TRUE(raft::encode(m, wire));
  EXPECT_FALSE(is_chunk_frame(wire));
  EXPECT_FALSE(decode_chunk(wire));
  // And the other way round: the Raft codec refuses a chunk frame rather than misreading it.
  const std::vector<std::byte> data = bytes_of("x");
  const std::vector<std::byte> chunk = encoded(data_frame(data));
  raft::DecodeScratch scratch;
  EXPECT_FALSE(raft::decode_message(chunk, scratch));
}

TEST(SnapshotChunk, MalformedFramesAreRefused) {
  const std::vector<std::byte> data = bytes_of("twenty bytes of data");
  const std::vector<std::byte> good = encoded(data_frame(data));

  std::vector<std::byte> truncated(good.begin(), good.end() - 1);
  EXPECT_FALSE(decode_chunk(truncated)) << "length field says more than the frame holds";
  std::vector<std::byte> header_only(good.begin(), good.begin() + kChunkHeaderBytes - 1);
  EXPECT_FALSE(decode_chunk(header_only));

  std::vector<std::byte> bad_kind = good;
  bad_kind[1] = std::byte{9};
  EXPECT_FALSE(decode_chunk(bad_kind));

  ChunkFrame past_end = data_frame(data);
  past_end.offset = 90;  // 90 + 20 > 100 bytes
  EXPECT_FALSE(decode_chunk(encoded(past_end)));

  ChunkFrame ack_with_data = data_frame(data);
  ack_with_data.kind = ChunkKind::kAck;
  EXPECT_FALSE(decode_chunk(encoded(ack_with_data)));

  ChunkFrame no_node_zero = data_frame(data);
  no_node_zero.id.voters |= 1;  // ids start at 1
  EXPECT_FALSE(decode_chunk(encoded(no_node_zero)));

  ChunkFrame voter_and_learner = data_frame(data);
  voter_and_learner.id.learners |= 0b10;  // node 1 is already a voter
  EXPECT_FALSE(decode_chunk(encoded(voter_and_learner)));

  ChunkFrame repair_without_incarnation = data_frame(data);
  repair_without_incarnation.id.repair_incarnation = 0;
  EXPECT_FALSE(decode_chunk(encoded(repair_without_incarnation)));

  ChunkFrame incarnation_without_repair = data_frame(data);
  incarnation_without_repair.id.repairing = 0;
  EXPECT_FALSE(decode_chunk(encoded(incarnation_without_repair)));

  ChunkFrame repair_past_max_id = data_frame(data);
  repair_past_max_id.id.repairing = raft::kMaxNodeId + 1;
  EXPECT_FALSE(decode_chunk(encoded(repair_past_max_id)));
  repair_past_max_id.id.repairing = raft::kMaxNodeId;  // the largest id is fine
  EXPECT_TRUE(decode_chunk(encoded(repair_past_max_id)));

  ChunkFrame small = data_frame(data);
  std::vector<std::byte> short_out(encoded_size(small) - 1);
  EXPECT_FALSE(encode(small, short_out));
}

}  // namespace
}  // namespace shmraft::node
