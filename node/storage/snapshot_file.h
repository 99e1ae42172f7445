#pragma once
// snap/snapshot: the latest snapshot, replaced atomically (a whole file written and flushed under another
// name, then renamed into place), so a crash leaves either the old snapshot or the new one, whole.
//
// Two writers: save() writes and renames on the caller's thread; another process or thread (the node's
// forked child, or its snapshot receiver, which writes a leader's image as it arrives) writes
// snap/snapshot.staged in the final form and the owner then only renames it into place with
// install_staged(), trusting its CRC the way the next open does (which reads and checks it); making
// that rename durable (an fsync of snap/) is then the writer's job.
//
// A snapshot file is the header (format::SnapshotHeader) then the data; the header's CRC is seeded with
// the header's fields and continued over the data, so it can be computed chunk by chunk as the data is
// written (snapshot_crc_seed) and checked end to end by a receiver that got the data in pieces.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>

#include "node/storage/file.h"
#include "node/storage/format.h"
#include "node/storage/node_storage.h"

namespace shmraft::storage {

// The current-format header of a snapshot of `data_bytes` bytes described by `meta`, its CRC field 0.
format::SnapshotHeader snapshot_header(const SnapshotMeta& meta, uint64_t data_bytes) noexcept;
SnapshotMeta snapshot_meta_of(const format::SnapshotHeader& header) noexcept;
// The CRC of `header`'s fields: continue it over the data (ipc::crc32c) to get the file's CRC.
uint32_t snapshot_crc_seed(const format::SnapshotHeader& header) noexcept;

// A snapshot file opened for reading in pieces (a leader streaming it to a follower): the header is read
// and checked, the data is not — pread() reads what is asked, when it is asked. The descriptor stays
// open, so a file renamed over meanwhile (a newer snapshot) stays readable as it was.
class SnapshotReader {
 public:
  // Throws StorageError for a file that does not open or whose header is not a snapshot's.
  explicit SnapshotReader(const std::filesystem::path& path);

  const SnapshotMeta& meta() const noexcept { return meta_; }
  uint64_t data_bytes() const noexcept { return data_bytes_; }
  // The CRC of a current-format file of these meta and data: the file's own for a file of the current
  // version; for an older one (its CRC covers another header) computed here, reading the data once.
  uint32_t crc() const noexcept { return crc_; }
  // Reads data bytes [offset, offset + out.size()). Throws StorageError past the end or on failure.
  void read(uint64_t offset, std::span<std::byte> out) const;

 private:
  std::filesystem::path path_;
  UniqueFd fd_;
  SnapshotMeta meta_;
  uint64_t header_bytes_ = 0;
  uint64_t data_bytes_ = 0;
  uint32_t crc_ = 0;
};

// Writes a whole snapshot file (header with its CRC, then the data) at `path`, mode 0600, and flushes it
// (fdatasync) in every durability mode: a renamed file is then whole after a power loss too, whether or
// not the rename survived. Throws StorageError; a partial file may be left behind.
void write_snapshot_file(const std::filesystem::path& path, const SnapshotMeta& meta,
                         std::span<const std::byte> data);

// The same, for data of `data_bytes` that `produce` hands to its argument in consecutive pieces (a state
// machine streaming its image: kv::StateMachine::snapshot(sink)), never whole, each with the CRC32C (from
// 0) of all the data handed over so far, that piece included. Each piece is written as it comes, and the
// write-back of every 8 MiB is started then, so the final flush finds little left. The file's CRC is the
// producer's last one continued from the header's seed (ipc::crc32c_combine): the data is not read again.
// A producer that hands over another number of bytes is a StorageError.
using SnapshotPieceSink = std::function<void(std::span<const std::byte> piece, uint32_t crc_so_far)>;
void write_snapshot_file(const std::filesystem::path& path, const SnapshotMeta& meta, uint64_t data_bytes,
                         const std::function<void(const SnapshotPieceSink&)>& produce);

class SnapshotFile {
 public:
  // Removes leftover temporary and staged files, and reads and checks snap/snapshot if there is one (a
  // snapshot that fails its CRC is refused: compaction may already have removed the entries it replaced).
  SnapshotFile(std::filesystem::path snap_dir, StorageStats& stats, RecoveryReport& report);

  const std::optional<SnapshotMeta>& meta() const noexcept { return meta_; }
  // On failure (a full disk, say) the previous snapshot is untouched and StorageError is thrown.
  void save(const SnapshotMeta& meta, std::span<const std::byte> data);
  // Where another process writes a snapshot (write_snapshot_file) for install_staged().
  std::filesystem::path staged_file() const;
  // Renames the staged file, which holds `meta`, into place. Not durable until snap/ is fsynced.
  void install_staged(const SnapshotMeta& meta);
  std::optional<Snapshot> load() const;
  std::filesystem::path file() const;  // snap/snapshot

 private:
  void rename_into_place(const std::filesystem::path& from, const SnapshotMeta& meta, bool sync_dir);

  std::filesystem::path dir_;
  StorageStats* stats_;
  std::optional<SnapshotMeta> meta_;
};

}  // namespace shmraft::storage
