#pragma once
// The bytes on disk. Every file starts with a magic number and a format version; a file whose version is
// newer than its kind's version below is refused rather than guessed at. All integers are little-endian (the
// only byte order this project runs on; static_assert below).
//
// Segment file log/<first index, 20 digits>.seg, preallocated to its full size with fallocate:
//
//   SegmentHeader (32 B) | record | record | ... | zeros to the end of the file
//   record = RecordHeader (32 B) | payload (length B) | zero padding to a multiple of 8
//
// The record CRC covers index, term, length, type and the payload, so a record is either entirely what
// was written or detectably not. Indexes are >= 1, so a valid record header is never all zero: the first
// all-zero header is where the written part of the segment ends.
//
// meta: two MetaSlots, at offsets 0 and kMetaSlotStride, each on its own page so that writing one never
// rewrites the other. The valid slot with the higher sequence number is the hard state and the watermark.
//
// snap/snapshot: SnapshotHeader | data (data_bytes B). The CRC covers the header fields and the data.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace shmraft::storage::format {

static_assert(std::endian::native == std::endian::little, "the on-disk format is little-endian");

// Segment files. Version 2 added the entry type to the record header; version 1 had none, and the Raft
// layer took an empty payload for a no-op. A version-1 segment is refused on open with an error naming
// both versions, and left untouched — not upgraded: its records grow by 8 bytes, so an upgrade is a copy
// of every segment that needs a crash-safe protocol of its own; and wiping the directory instead would
// be unsafe (the node may have voted or acknowledged entries), so the error says neither.
inline constexpr uint32_t kSegmentVersion = 2;
inline constexpr uint32_t kFirstSegmentVersionWithEntryTypes = 2;
// Hard-state slots. Version 2 added the lost mark (HardState::lost), version 3 the watermark and the slot's
// own length. Slots of versions 1 and 2 (older builds') are still read — as a node that is not lost, and
// with no watermark — and the open that reads one writes a version-3 slot (node_storage.cpp).
inline constexpr uint32_t kMetaVersion = 3;
// Snapshot files. Version 2 added the configuration the snapshot covers (voters and learners), version 3
// its repair mark (the node being repaired after it lost state, and the lost start); files of versions 1
// and 2 (older builds') are still read, as snapshots that record no configuration, or no repair.
inline constexpr uint32_t kSnapshotVersion = 3;
inline constexpr std::size_t kRecordAlignment = 8;

inline constexpr uint64_t kSegmentMagic = 0x31474f4c54464152;   // "RAFTLOG1"
inline constexpr uint64_t kMetaMagic = 0x4154454d54464152;      // "RAFTMETA"
inline constexpr uint64_t kSnapshotMagic = 0x3150414e53464152;  // "RAFSNAP1"

struct SegmentHeader {
  uint64_t magic = kSegmentMagic;
  uint32_t version = kSegmentVersion;
  uint32_t header_bytes = sizeof(SegmentHeader);  // where the first record starts
  uint64_t first_index = 0;                       // must match the file name
  uint32_t reserved = 0;
  uint32_t crc = 0;  // CRC32C of the 28 bytes before it
};
static_assert(sizeof(SegmentHeader) == 32);

struct RecordHeader {
  uint64_t index = 0;
  uint64_t term = 0;
  uint32_t length = 0;  // payload bytes, not counting padding
  uint8_t type = 0;     // the entry's type, opaque here (the Raft layer's EntryType)
  uint8_t reserved[7] = {};
  uint32_t crc = 0;  // CRC32C of the 28 bytes before it and the payload
};
static_assert(sizeof(RecordHeader) == 32);
inline constexpr std::size_t kRecordCrcCoveredHeaderBytes = offsetof(RecordHeader, crc);

// From version 3 on, every slot of every version starts with magic, version and its own length, and ends
// with the CRC32C of the bytes before it: a build then tells a slot of a newer version (its CRC holds)
// from a bit flip in the version field of its own (the CRC fails: damage, not a refusal). Segment headers
// are laid out the same way (header_bytes).
struct MetaSlot {
  uint64_t magic = kMetaMagic;
  uint32_t version = kMetaVersion;
  uint32_t slot_bytes = 72;  // this struct's size: where the CRC ends
  uint64_t sequence = 0;     // larger = newer; 0 = never written
  uint64_t term = 0;
  uint64_t vote = 0;
  uint64_t commit = 0;
  uint64_t lost = 0;
  // The watermark: the highest log index this node had made durable (as its mode promises) when the slot
  // was written, so every entry up to it may have been acknowledged. A log that ends below it lost
  // acknowledged entries (recovery.cpp). Written before the node may acknowledge, lowered before a
  // truncation removes anything.
  uint64_t watermark = 0;
  uint32_t reserved = 0;
  uint32_t crc = 0;  // CRC32C of the 68 bytes before it
};
static_assert(sizeof(MetaSlot) == 72 && MetaSlot{}.slot_bytes == sizeof(MetaSlot));
// Where a slot of version 3 or later says how long it is (self_described_crc_holds).
inline constexpr std::size_t kMetaSlotBytesOffset = offsetof(MetaSlot, slot_bytes);

// The version-2 slot: read, never written.
struct MetaSlotV2 {
  uint64_t magic = kMetaMagic;
  uint32_t version = 2;
  uint32_t reserved = 0;
  uint64_t sequence = 0;
  uint64_t term = 0;
  uint64_t vote = 0;
  uint64_t commit = 0;
  uint64_t lost = 0;
  uint32_t reserved2 = 0;
  uint32_t crc = 0;  // CRC32C of the 60 bytes before it
};
static_assert(sizeof(MetaSlotV2) == 64);

// The version-1 slot: read, never written.
struct MetaSlotV1 {
  uint64_t magic = kMetaMagic;
  uint32_t version = 1;
  uint32_t reserved = 0;
  uint64_t sequence = 0;
  uint64_t term = 0;
  uint64_t vote = 0;
  uint64_t commit = 0;
  uint32_t reserved2 = 0;
  uint32_t crc = 0;  // CRC32C of the 52 bytes before it
};
static_assert(sizeof(MetaSlotV1) == 56);
inline constexpr std::size_t kMetaSlotStride = 4096;
inline constexpr std::size_t kMetaFileBytes = 2 * kMetaSlotStride;

struct SnapshotHeader {
  uint64_t magic = kSnapshotMagic;
  uint32_t version = kSnapshotVersion;
  uint32_t reserved = 0;
  uint64_t last_index = 0;
  uint64_t last_term = 0;
  uint64_t voters = 0;  // node-id bit sets (bit n: node n), both 0: no configuration recorded
  uint64_t learners = 0;
  uint32_t repairing = 0;  // node id, 0: no repair in progress
  uint32_t reserved3 = 0;
  uint64_t repair_incarnation = 0;
  uint64_t data_bytes = 0;
  uint32_t reserved2 = 0;
  uint32_t crc = 0;  // CRC32C of the 76 bytes before it, continued over the data
};
static_assert(sizeof(SnapshotHeader) == 80);

// The version-2 header: read, never written.
struct SnapshotHeaderV2 {
  uint64_t magic = kSnapshotMagic;
  uint32_t version = 2;
  uint32_t reserved = 0;
  uint64_t last_index = 0;
  uint64_t last_term = 0;
  uint64_t voters = 0;
  uint64_t learners = 0;
  uint64_t data_bytes = 0;
  uint32_t reserved2 = 0;
  uint32_t crc = 0;  // CRC32C of the 60 bytes before it, continued over the data
};
static_assert(sizeof(SnapshotHeaderV2) == 64);

// The version-1 header: read, never written.
struct SnapshotHeaderV1 {
  uint64_t magic = kSnapshotMagic;
  uint32_t version = 1;
  uint32_t reserved = 0;
  uint64_t last_index = 0;
  uint64_t last_term = 0;
  uint64_t data_bytes = 0;
  uint32_t reserved2 = 0;
  uint32_t crc = 0;  // CRC32C of the 44 bytes before it, continued over the data
};
static_assert(sizeof(SnapshotHeaderV1) == 48);

// The largest payload one record may carry: its length must fit the u32 field and the record must fit a
// segment whose offsets are kept as u32.
inline constexpr std::size_t kMaxPayloadBytes = (std::size_t{1} << 31);

constexpr std::size_t record_bytes(std::size_t payload_bytes) noexcept {
  return (sizeof(RecordHeader) + payload_bytes + kRecordAlignment - 1) & ~(kRecordAlignment - 1);
}

uint32_t record_crc(const RecordHeader& header, std::span<const std::byte> payload) noexcept;
uint32_t segment_header_crc(const SegmentHeader& header) noexcept;
uint32_t meta_slot_crc(const MetaSlot& slot) noexcept;
uint32_t meta_slot_crc(const MetaSlotV2& slot) noexcept;
uint32_t meta_slot_crc(const MetaSlotV1& slot) noexcept;
uint32_t snapshot_crc(const SnapshotHeader& header, std::span<const std::byte> data) noexcept;
uint32_t snapshot_crc(const SnapshotHeaderV1& header, std::span<const std::byte> data) noexcept;
uint32_t snapshot_crc(const SnapshotHeaderV2& header, std::span<const std::byte> data) noexcept;

// Whether `bytes`, which start with a header saying its own length (a u32 at `length_offset`) and ending
// with the CRC32C of the bytes before that CRC, hold such a header whose CRC holds. Every meta slot from
// version 3 and every segment header is laid out so: a file of a newer version then passes (a refusal:
// an operator's matter), a bit flip in the version field of one of ours fails (damage).
bool self_described_crc_holds(std::span<const std::byte> bytes, std::size_t length_offset) noexcept;

// "00000000000000000042.seg" for 42; parse_segment_file_name is its inverse and rejects anything else.
std::string segment_file_name(uint64_t first_index);
std::optional<uint64_t> parse_segment_file_name(std::string_view name);

inline constexpr std::string_view kMetaFileName = "meta";
inline constexpr std::string_view kLockFileName = "lock";  // empty: its record lock is all (file.h)
inline constexpr std::string_view kLogDirName = "log";
inline constexpr std::string_view kSnapshotDirName = "snap";
inline constexpr std::string_view kSnapshotFileName = "snapshot";
// Files being prepared get this suffix until they are complete and renamed into place.
inline constexpr std::string_view kTemporarySuffix = ".tmp";

}  // namespace shmraft::storage::format
