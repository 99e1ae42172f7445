#pragma once
// The follower's side of a chunked snapshot transfer (snapshot_chunk.h): writes the leader's chunks into
// one partial file in the data directory and, once the image is whole and its end-to-end CRC32C is
// right, gives it to the node, which hands the Raft core one complete InstallSnapshot.
//
// Rules of the partial file (<data dir>/snapshot.partial, 0600):
//   - it holds one snapshot, named by its SnapshotId in a header, and the bytes [0, held) of its image,
//     where held is what follows the header; it survives the process (SIGKILL, restart), so a sender
//     that offers the same snapshot again is told `held` and resumes there;
//   - an offer or a chunk of a different snapshot discards it and starts that one;
//   - a chunk whose data CRC fails is refused and the sender told to send again from `held`; a chunk
//     that does not start at `held` (a gap, a repeat) is not written, and the sender told `held`;
//   - a whole image whose CRC fails (damaged on disk, say) is discarded and fetched again from byte 0;
//   - a header that does not parse is removed when the receiver opens.
// The file is not synced: a crash of the host may leave a tail of zeros or garbage, which the image CRC
// then refuses. Everything written with pwrite; no mapping, so a full disk surfaces as an error.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "node/process/snapshot_chunk.h"
#include "node/storage/file.h"

namespace shmraft::node {

// In the node's data directory, beside the storage's own files.
inline constexpr std::string_view kPartialSnapshotFile = "snapshot.partial";
// The partial file's header (which snapshot it holds); the image's bytes follow it.
inline constexpr std::size_t kPartialHeaderBytes = 72;

class SnapshotReceiver {
 public:
  // Opens (or finds nothing at) `partial_file`; `notes` gets a line for a partial file discarded as
  // unreadable, and for one kept to resume.
  SnapshotReceiver(std::filesystem::path partial_file, uint32_t self, std::vector<std::string>& notes);

  // Handles an offer or a data chunk and returns the reply for the sender: kAck (written, or held
  // already), kNack (not written: send again from the offset), or kDone once complete() holds the
  // whole image. Throws storage::StorageError when the file cannot be written.
  ChunkFrame on_frame(const ChunkFrame& frame);

  // The image received in whole and verified, until finish().
  bool complete() const noexcept { return complete_; }
  const SnapshotId& id() const noexcept { return id_; }
  std::span<const std::byte> image() const noexcept { return image_; }
  // The image was handed on: removes the partial file and frees the image.
  void finish();

  uint64_t held() const noexcept { return held_; }
  uint64_t chunks_received() const noexcept { return chunks_received_; }
  uint64_t bytes_received() const noexcept { return bytes_received_; }  // written by this process
  uint64_t chunks_refused() const noexcept { return chunks_refused_; }  // bad data CRC
  uint64_t images_refused() const noexcept { return images_refused_; }  // bad image CRC
  uint64_t resumes() const noexcept { return resumes_; }                // offers answered with held > 0

 private:
  void start(const SnapshotId& id);  // a fresh partial file for `id`
  void discard();
  bool verify_whole();  // false: the image failed its CRC and was discarded
  ChunkFrame reply(const ChunkFrame& to, ChunkKind kind) const;

  std::filesystem::path path_;
  uint32_t self_;
  storage::UniqueFd fd_;  // open while a partial file exists
  SnapshotId id_;
  uint64_t held_ = 0;
  bool complete_ = false;
  std::vector<std::byte> image_;
  uint64_t chunks_received_ = 0;
  uint64_t bytes_received_ = 0;
  uint64_t chunks_refused_ = 0;
  uint64_t images_refused_ = 0;
  uint64_t resumes_ = 0;
};

}  // namespace shmraft::node
