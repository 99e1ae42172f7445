#pragma once
// A node directory (node/storage/node_storage.h) flattened into one byte string: the input of the
// storage-recovery target, and what the seed generator makes of real directories.
//
//   image = file*
//   file  = u8 kind | u8 flags | u64 number | u32 length | length bytes      (the last may be cut short)
//
// kind (mod 5): meta, segment (log/<number>.seg), snapshot (snap/snapshot), and the leftovers of an
// interrupted creation: log/<number>.seg.tmp, snap/snapshot.tmp.
// flags bit 0, seal: before writing, give every header and record the CRC its bytes need (segment header,
//   each record found by walking the lengths, both meta slots, the snapshot), so the fuzzer reaches the
//   checks behind the CRCs (index continuity, terms, the commit bound) without having to solve CRC32C.
// flags bit 1, slots (meta only): the bytes are the two meta slots, placed at their offsets in a file
//   of the size the storage writes; without it the bytes are the whole file.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace shmraft::fuzz {

enum class FileKind : uint8_t { meta, segment, snapshot, segment_leftover, snapshot_leftover };
inline constexpr uint8_t kSealFlag = 1;
inline constexpr uint8_t kSlotsFlag = 2;

struct ImageFile {
  FileKind kind = FileKind::meta;
  uint8_t flags = 0;
  uint64_t number = 0;
  std::vector<std::byte> bytes;
};

std::vector<ImageFile> parse_image(std::span<const std::byte> image);
std::vector<std::byte> serialize_image(const std::vector<ImageFile>& files);

// Creates `dir` (which must not exist) with log/ and snap/, and writes the files, flags applied.
void write_node_directory(const std::filesystem::path& dir, const std::vector<ImageFile>& files);

// The files of an existing node directory, compact: meta as its two slots, segments without the zeros
// that end them (reading as the same log: the preallocated tail is zeros too).
std::vector<ImageFile> read_node_directory(const std::filesystem::path& dir);

}  // namespace shmraft::fuzz
