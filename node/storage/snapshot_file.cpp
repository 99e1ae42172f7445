#include "node/storage/snapshot_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "node/storage/file.h"
#include "node/storage/format.h"

namespace shmraft::storage {

namespace fs = std::filesystem;
using format::SnapshotHeader;

namespace {

// Reads and checks the whole snapshot file; nullopt if there is none.
std::optional<Snapshot> read_snapshot(const fs::path& path) {
  int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("cannot open", path, errno);
  }
  UniqueFd fd(raw);
  const uint64_t size = file_size(fd.get(), path);
  if (size < sizeof(SnapshotHeader)) {
    throw StorageError("snapshot " + path.string() + " is " + std::to_string(size) +
                       " bytes, shorter than its header");
  }
  SnapshotHeader header;
  read_all_at(fd.get(), &header, sizeof header, 0, path);
  if (header.magic != format::kSnapshotMagic) {
    throw StorageError("snapshot " + path.string() + " has a bad magic number at offset 0");
  }
  if (header.version > format::kSnapshotVersion) {
    throw StorageError("snapshot " + path.string() + " has format version " + std::to_string(header.version) +
                       ", newer than this build understands (" + std::to_string(format::kSnapshotVersion) +
                       ")");
  }
  if (header.data_bytes != size - sizeof header) {
    throw StorageError("snapshot " + path.string() + " announces " + std::to_string(header.data_bytes) +
                       " bytes of data but holds " + std::to_string(size - sizeof header));
  }
  // Index 0 precedes every entry and 2^64-1 has no successor: neither can end a snapshot, even one whose
  // CRC is right (found by storage_recovery_fuzz: recovery accepted them and broke later).
  if (header.last_index == 0 || header.last_index == UINT64_MAX) {
    throw StorageError("snapshot " + path.string() + " claims last index " +
                       std::to_string(header.last_index) + ", which no snapshot can have");
  }
  Snapshot snapshot;
  snapshot.meta = SnapshotMeta{header.last_index, header.last_term};
  snapshot.data.resize(header.data_bytes);
  read_all_at(fd.get(), snapshot.data.data(), snapshot.data.size(), sizeof header, path);
  if (header.crc != format::snapshot_crc(header, snapshot.data)) {
    throw StorageError("snapshot " + path.string() + " is corrupt (CRC mismatch over its " +
                       std::to_string(size) + " bytes)");
  }
  return snapshot;
}

}  // namespace

SnapshotFile::SnapshotFile(fs::path snap_dir, StorageStats& stats, RecoveryReport& report)
    : dir_(std::move(snap_dir)), stats_(&stats) {
  const fs::path temporary = fs::path(file()).concat(format::kTemporarySuffix);
  if (::unlink(temporary.c_str()) == 0) {
    report.notes.push_back("snap/" + temporary.filename().string() +
                           ": removed, an interrupted snapshot save");
  }
  if (std::optional<Snapshot> snapshot = read_snapshot(file())) meta_ = snapshot->meta;
}

fs::path SnapshotFile::file() const {
  return dir_ / format::kSnapshotFileName;
}

void SnapshotFile::save(const SnapshotMeta& meta, std::span<const std::byte> data) {
  SnapshotHeader header;
  header.last_index = meta.last_index;
  header.last_term = meta.last_term;
  header.data_bytes = data.size();
  header.crc = format::snapshot_crc(header, data);
  write_file_atomically(file(), {std::as_bytes(std::span(&header, 1)), data});
  stats_->flushes += 2;
  meta_ = meta;
}

std::optional<Snapshot> SnapshotFile::load() const {
  if (!meta_) return std::nullopt;
  return read_snapshot(file());
}

}  // namespace shmraft::storage
