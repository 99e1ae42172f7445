#include "node/storage/snapshot_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <span>
#include <string>

#include "node/storage/file.h"
#include "node/storage/format.h"

namespace shmraft::storage {

namespace fs = std::filesystem;
using format::SnapshotHeader;

namespace {

// The header of any version as the current one (a version-1 file records no configuration, a version-2
// one no repair); an older header is kept too, since its CRC covers its own layout.
struct ReadHeader {
  SnapshotHeader header;
  std::optional<format::SnapshotHeaderV1> v1;
  std::optional<format::SnapshotHeaderV2> v2;
  std::size_t bytes = 0;

  uint32_t crc(std::span<const std::byte> data) const {
    if (v1) return format::snapshot_crc(*v1, data);
    if (v2) return format::snapshot_crc(*v2, data);
    return format::snapshot_crc(header, data);
  }
};

ReadHeader read_header(int fd, uint64_t size, const fs::path& path) {
  const auto too_short = [&](std::size_t header_bytes) {
    return damage("snapshot " + path.string() + " is " + std::to_string(size) +
                  " bytes, shorter than its header (" + std::to_string(header_bytes) + ")");
  };
  if (size < sizeof(format::SnapshotHeaderV1)) throw too_short(sizeof(format::SnapshotHeaderV1));
  format::SnapshotHeaderV1 v1;
  read_all_at(fd, &v1, sizeof v1, 0, path);
  if (v1.magic != format::kSnapshotMagic) {
    throw damage("snapshot " + path.string() + " has a bad magic number at offset 0");
  }
  if (v1.version > format::kSnapshotVersion || v1.version == 0) {
    throw StorageError("snapshot " + path.string() + " has format version " + std::to_string(v1.version) +
                       ", " +
                       (v1.version == 0 ? "which never existed" : "newer than this build understands") +
                       " (" + std::to_string(format::kSnapshotVersion) + ")");
  }
  ReadHeader read;
  if (v1.version == 1) {
    read.header = SnapshotHeader{.version = 1,
                                 .last_index = v1.last_index,
                                 .last_term = v1.last_term,
                                 .data_bytes = v1.data_bytes,
                                 .crc = v1.crc};
    read.v1 = v1;
    read.bytes = sizeof v1;
    return read;
  }
  if (v1.version == 2) {
    if (size < sizeof(format::SnapshotHeaderV2)) throw too_short(sizeof(format::SnapshotHeaderV2));
    format::SnapshotHeaderV2 v2;
    read_all_at(fd, &v2, sizeof v2, 0, path);
    read.header = SnapshotHeader{.version = 2,
                                 .last_index = v2.last_index,
                                 .last_term = v2.last_term,
                                 .voters = v2.voters,
                                 .learners = v2.learners,
                                 .data_bytes = v2.data_bytes,
                                 .crc = v2.crc};
    read.v2 = v2;
    read.bytes = sizeof v2;
    return read;
  }
  if (size < sizeof(SnapshotHeader)) throw too_short(sizeof(SnapshotHeader));
  read_all_at(fd, &read.header, sizeof read.header, 0, path);
  read.bytes = sizeof read.header;
  return read;
}

// Reads and checks the whole snapshot file; nullopt if there is none.
std::optional<Snapshot> read_snapshot(const fs::path& path) {
  int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("cannot open", path, errno);
  }
  UniqueFd fd(raw);
  const uint64_t size = file_size(fd.get(), path);
  const ReadHeader read = read_header(fd.get(), size, path);
  const SnapshotHeader& header = read.header;
  if (header.data_bytes != size - read.bytes) {
    throw damage("snapshot " + path.string() + " announces " + std::to_string(header.data_bytes) +
                 " bytes of data but holds " + std::to_string(size - read.bytes));
  }
  // Index 0 precedes every entry and 2^64-1 has no successor: neither can end a snapshot, even one whose
  // CRC is right (found by storage_recovery_fuzz: recovery accepted them and broke later).
  if (header.last_index == 0 || header.last_index == UINT64_MAX) {
    throw damage("snapshot " + path.string() + " claims last index " + std::to_string(header.last_index) +
                 ", which no snapshot can have");
  }
  // Node ids start at 1, and a node is a voter or a learner, not both.
  if (((header.voters | header.learners) & 1) != 0 || (header.voters & header.learners) != 0) {
    throw damage("snapshot " + path.string() + " records an impossible configuration (voters " +
                 std::to_string(header.voters) + ", learners " + std::to_string(header.learners) +
                 " as node-id bit sets)");
  }
  if ((header.repairing == 0) != (header.repair_incarnation == 0) || header.repairing > 63) {
    throw damage("snapshot " + path.string() + " records an impossible repair (node " +
                 std::to_string(header.repairing) + ", incarnation " +
                 std::to_string(header.repair_incarnation) + ")");
  }
  Snapshot snapshot;
  snapshot.meta = SnapshotMeta{header.last_index, header.last_term, header.voters,
                               header.learners,   header.repairing, header.repair_incarnation};
  snapshot.data.resize(header.data_bytes);
  read_all_at(fd.get(), snapshot.data.data(), snapshot.data.size(), read.bytes, path);
  if (header.crc != read.crc(snapshot.data)) {
    throw damage("snapshot " + path.string() + " is corrupt (CRC mismatch over its " + std::to_string(size) +
                 " bytes)");
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
  header.voters = meta.voters;
  header.learners = meta.learners;
  header.repairing = meta.repairing;
  header.repair_incarnation = meta.repair_incarnation;
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
