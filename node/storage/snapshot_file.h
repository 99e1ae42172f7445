#pragma once
// snap/snapshot: the latest snapshot, replaced atomically (temporary file, fdatasync, rename, fsync of
// snap/) in every durability mode, so a crash leaves either the old snapshot or the new one, whole.
#include <filesystem>
#include <optional>
#include <span>

#include "node/storage/node_storage.h"

namespace shmraft::storage {

class SnapshotFile {
 public:
  // Removes a leftover temporary file, and reads and checks snap/snapshot if there is one (a snapshot
  // that fails its CRC is refused: compaction may already have removed the entries it replaced).
  SnapshotFile(std::filesystem::path snap_dir, StorageStats& stats, RecoveryReport& report);

  const std::optional<SnapshotMeta>& meta() const noexcept { return meta_; }
  // On failure (a full disk, say) the previous snapshot is untouched and StorageError is thrown.
  void save(const SnapshotMeta& meta, std::span<const std::byte> data);
  std::optional<Snapshot> load() const;

 private:
  std::filesystem::path file() const;

  std::filesystem::path dir_;
  StorageStats* stats_;
  std::optional<SnapshotMeta> meta_;
};

}  // namespace shmraft::storage
