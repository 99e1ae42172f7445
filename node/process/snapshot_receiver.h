#pragma once
// The follower's side of a chunked snapshot transfer (snapshot_chunk.h): writes the leader's chunks as
// they arrive into one partial file in the data directory, which is a snapshot file in the storage's own
// format (node/storage/snapshot_file.h) being filled in, and checks the image's CRC as it grows. Once the
// image is whole and its CRC is right, the node installs that very file (snapshot_installer.h): nothing
// is buffered or copied on the loop.
//
// Rules of the partial file (<data dir>/snapshot.partial, 0600):
//   - it is the snapshot's header (written first, with the snapshot's CRC: SnapshotId::crc is the
//     storage's CRC of the file, so the receiver checks what the leader's file says) and the bytes
//     [0, held) of its data; it survives the process (SIGKILL, restart), so a sender that offers the same
//     snapshot again is told `held` and resumes there (a restart reads the held bytes once to take up the
//     running CRC);
//   - an offer or a chunk of a different snapshot discards it and starts that one, except while the node
//     installs a whole image from it: then nothing is answered (the sender retries later);
//   - a chunk whose data CRC fails is refused and the sender told to send again from `held`; a chunk
//     that does not start at `held` (a gap, a repeat) is not written, and the sender told `held`;
//   - a whole image whose CRC fails (damaged on disk, say) is discarded and fetched again from byte 0;
//   - a header that does not parse is removed when the receiver opens.
// The file is not synced while it fills: the installer flushes it once whole, before it is renamed into
// snap/. But every `writeback_bytes` received, the write-back of those bytes is started (sync_file_range,
// SYNC_FILE_RANGE_WRITE: not waited for), so the disk writes while the image arrives and that flush finds
// little left (at 1 GiB it had waited for the whole image, ~1.5 s). Everything written with pwrite; no
// mapping, so a full disk surfaces as an error.
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
#include "node/storage/format.h"
#include "node/storage/node_storage.h"

namespace shmraft::node {

// In the node's data directory, beside the storage's own files.
inline constexpr std::string_view kPartialSnapshotFile = "snapshot.partial";
// The partial file's header (the snapshot file's); the image's bytes follow it.
inline constexpr std::size_t kPartialHeaderBytes = sizeof(storage::format::SnapshotHeader);

// The storage's description of the snapshot a transfer carries, and the other way round.
storage::SnapshotMeta storage_meta(const SnapshotId& id) noexcept;

class SnapshotReceiver {
 public:
  // Opens (or finds nothing at) `partial_file`; `notes` gets a line for a partial file discarded as
  // unreadable, and for one kept to resume.
  SnapshotReceiver(std::filesystem::path partial_file, uint32_t self, std::vector<std::string>& notes,
                   uint64_t writeback_bytes = kWritebackBytes);
  static constexpr uint64_t kWritebackBytes = 8 << 20;

  // Handles an offer or a data chunk and returns the reply for the sender: kAck (written, or held
  // already), kNack (not written: send again from the offset), or kDone once complete() holds the
  // whole image (or it was installed already); nullopt while a whole image of another snapshot is being
  // installed. Throws storage::StorageError when the file cannot be written.
  std::optional<ChunkFrame> on_frame(const ChunkFrame& frame);

  // The image received in whole and verified, in file(), until installed() or discard().
  bool complete() const noexcept { return complete_; }
  const SnapshotId& id() const noexcept { return id_; }
  const std::filesystem::path& file() const noexcept { return path_; }
  // The node moved file() into its storage: offers of this snapshot are answered kDone from now on.
  void installed();
  // Whether `id` is the image installed last from this receiver.
  bool installed(const SnapshotId& id) const noexcept { return installed_ && *installed_ == id; }
  // The node did not want the whole image after all (its core was past it): the file is removed.
  void discard();

  uint64_t held() const noexcept { return held_; }
  // When this process started receiving the image (monotonic ns): its first chunk, or its start for an
  // image it resumes.
  uint64_t started_ns() const noexcept { return started_ns_; }
  uint64_t chunks_received() const noexcept { return chunks_received_; }
  uint64_t bytes_received() const noexcept { return bytes_received_; }  // written by this process
  uint64_t chunks_refused() const noexcept { return chunks_refused_; }  // bad data CRC
  uint64_t images_refused() const noexcept { return images_refused_; }  // bad image CRC
  uint64_t resumes() const noexcept { return resumes_; }                // offers answered with held > 0
  uint64_t writebacks() const noexcept { return writebacks_; }          // write-backs started

 private:
  void start(const SnapshotId& id);  // a fresh partial file for `id`
  bool check_whole();                // false: the image failed its CRC and was discarded
  void start_writeback();            // of the bytes held since the last one
  ChunkFrame reply(const ChunkFrame& to, ChunkKind kind) const;

  std::filesystem::path path_;
  uint32_t self_;
  uint64_t writeback_bytes_;
  storage::UniqueFd fd_;  // open while a partial file exists
  SnapshotId id_;
  uint64_t held_ = 0;
  uint64_t written_back_ = 0;  // the image's bytes [0, written_back_) have had their write-back started
  uint32_t crc_ = 0;           // the file's CRC over the header and [0, held)
  uint64_t started_ns_ = 0;
  bool complete_ = false;
  std::optional<SnapshotId> installed_;  // the last image installed from this receiver
  uint64_t chunks_received_ = 0;
  uint64_t bytes_received_ = 0;
  uint64_t chunks_refused_ = 0;
  uint64_t images_refused_ = 0;
  uint64_t resumes_ = 0;
  uint64_t writebacks_ = 0;
};

}  // namespace shmraft::node
