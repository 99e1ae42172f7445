#pragma once
// snap/snapshot: the latest snapshot, replaced atomically (a whole file written and flushed under another
// name, then renamed into place), so a crash leaves either the old snapshot or the new one, whole.
//
// Two writers: save() writes and renames on the caller's thread; a process of its own (the node's forked
// child) writes snap/snapshot.staged with write_snapshot_file() and the owner then only renames it into
// place with install_staged(), trusting its CRC the way the next open does (which reads and checks it);
// making that rename durable (an fsync of snap/) is then the writer's job.
#include <filesystem>
#include <optional>
#include <span>

#include "node/storage/node_storage.h"

namespace shmraft::storage {

// Writes a whole snapshot file (header with its CRC, then the data) at `path`, mode 0600, and flushes it
// (fdatasync) in every durability mode: a renamed file is then whole after a power loss too, whether or
// not the rename survived. Throws StorageError; a partial file may be left behind.
void write_snapshot_file(const std::filesystem::path& path, const SnapshotMeta& meta,
                         std::span<const std::byte> data);

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
