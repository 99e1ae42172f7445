#pragma once
// The bytes of a snapshot as the leader sends them (snapshot_sender.h): read a chunk at a time, when the
// chunk goes out, never whole. The node's come from its snapshot file (SnapshotFileImage).
#include <cstdint>
#include <filesystem>
#include <span>

#include "node/process/snapshot_chunk.h"
#include "node/storage/snapshot_file.h"

namespace shmraft::node {

class SnapshotImage {
 public:
  virtual ~SnapshotImage() = default;
  // Which snapshot; its crc is the storage's CRC of the snapshot file (snapshot_receiver.h).
  virtual const SnapshotId& id() const noexcept = 0;
  // Reads bytes [offset, offset + out.size()) of the image; throws storage::StorageError on failure.
  virtual void read(uint64_t offset, std::span<std::byte> out) const = 0;
  // Reads the whole image and checks it against id().crc (slow: not on the loop). Throws as read() does.
  virtual bool intact() const = 0;
};

// A snapshot file opened for sending: only its header is read here (the CRC it records is the one the
// receiver checks), and it stays readable as it was while a newer snapshot replaces it.
class SnapshotFileImage final : public SnapshotImage {
 public:
  explicit SnapshotFileImage(const std::filesystem::path& file);
  const storage::SnapshotMeta& meta() const noexcept { return reader_.meta(); }
  const SnapshotId& id() const noexcept override { return id_; }
  void read(uint64_t offset, std::span<std::byte> out) const override { reader_.read(offset, out); }
  bool intact() const override;

 private:
  storage::SnapshotReader reader_;
  SnapshotId id_;
};

}  // namespace shmraft::node
