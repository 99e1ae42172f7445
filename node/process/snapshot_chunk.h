#pragma once
// The frames of a chunked snapshot transfer (node/process/snapshot_sender.h, snapshot_receiver.h). They
// travel on the peer rings beside the Raft messages and are told apart by their first byte: a Raft frame
// starts with raft::kWireVersion (a small number), a chunk frame with kChunkFrameTag, which no wire
// version will reach. The Raft core never sees them: it emits and receives one whole InstallSnapshot.
//
// Layout (integers little-endian), 90 bytes of header then the data:
//   u8 tag | u8 kind | u32 from | u32 to | u64 leader term | u64 snapshot index | u64 snapshot term
//   | u64 snapshot bytes | u32 snapshot CRC32C | u64 voters | u64 learners | u32 repairing
//   | u64 repair incarnation | u64 offset | u32 data CRC32C | u32 data length | data
// (voters, learners and the repair mark: the configuration the snapshot covers, raft::ConfState, with
// the sets as node-id bit sets, raft::NodeSet. A lost node caught up by a snapshot learns from the mark
// that it is being repaired; without it, it would stay lost.)
// The ring checks each frame's CRC already; the data CRC names a bad chunk to the receiver even when
// it was damaged before the frame was sealed, and the snapshot CRC covers the whole image end to end.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "node/raft/conf_state.h"

namespace shmraft::node {

inline constexpr std::byte kChunkFrameTag{0xC5};

enum class ChunkKind : uint8_t {
  kOffer = 1,  // leader -> follower: "I have this snapshot for you; from which byte?"
  kData = 2,   // leader -> follower: bytes [offset, offset + data.size())
  kAck = 3,    // follower -> leader: "send from `offset`" (what it holds, intact, of this snapshot)
  kDone = 4,   // follower -> leader: the image was whole and went to the Raft core
  kNack = 5,   // follower -> leader: that chunk was not written (a gap before it, a bad data CRC, or the
               // whole image failed its CRC): send again from `offset`
};

// Which snapshot a transfer carries: two offers of equal ids are the same bytes.
struct SnapshotId {
  uint64_t index = 0;
  uint64_t term = 0;
  uint64_t bytes = 0;
  uint32_t crc = 0;     // CRC32C of the whole image
  uint64_t voters = 0;  // the configuration it covers (raft::NodeSet bits)
  uint64_t learners = 0;
  uint32_t repairing = 0;  // and its repair mark (raft::ConfState)
  uint64_t repair_incarnation = 0;
  raft::ConfState conf_state() const noexcept {
    return {raft::NodeSet::from_bits(voters), raft::NodeSet::from_bits(learners), repairing,
            repair_incarnation};
  }
  friend bool operator==(const SnapshotId&, const SnapshotId&) = default;
};

struct ChunkFrame {
  ChunkKind kind = ChunkKind::kOffer;
  uint32_t from = 0;
  uint32_t to = 0;
  uint64_t term = 0;  // the leader's term (kOffer, kData), echoed by the follower
  SnapshotId id;
  uint64_t offset = 0;
  uint32_t data_crc = 0;  // filled by encode(), checked by intact()
  std::span<const std::byte> data;
};

inline constexpr std::size_t kChunkHeaderBytes = 90;

// Whether a peer frame is a chunk frame (and not a Raft message).
inline bool is_chunk_frame(std::span<const std::byte> frame) noexcept {
  return !frame.empty() && frame[0] == kChunkFrameTag;
}

inline std::size_t encoded_size(const ChunkFrame& frame) noexcept {
  return kChunkHeaderBytes + frame.data.size();
}

// Writes `frame` (computing its data CRC) into `out`; false when `out` is shorter than encoded_size().
// The data may already be in place (frame.data pointing at out's bytes after the header): not copied.
bool encode(const ChunkFrame& frame, std::span<std::byte> out) noexcept;

// nullopt for a frame that is not a well-formed chunk frame (wrong tag or kind, wrong length, data in an
// offer or acknowledgement, a range past the snapshot's end, an impossible configuration or repair mark).
// `data` points into `in`.
std::optional<ChunkFrame> decode_chunk(std::span<const std::byte> in) noexcept;

// Whether the data matches the CRC it was sent with.
bool intact(const ChunkFrame& frame) noexcept;

}  // namespace shmraft::node
