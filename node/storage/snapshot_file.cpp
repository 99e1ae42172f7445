#include "node/storage/snapshot_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipc/crc32c.h"
#include "node/storage/file.h"
#include "node/storage/format.h"

namespace shmraft::storage {

namespace fs = std::filesystem;
using format::SnapshotHeader;

namespace {

// snap/snapshot.staged: written whole by another process, waiting for install_staged().
constexpr std::string_view kStagedSuffix = ".staged";
// A streamed snapshot's write-back is started every this many bytes.
constexpr uint64_t kWritebackBytes = uint64_t{8} << 20;

// The header of any version as the current one (a version-1 file records no configuration, a version-2
// one no repair); an older header is kept too, since its CRC covers its own layout.
struct ReadHeader {
  SnapshotHeader header;
  std::optional<format::SnapshotHeaderV1> v1;
  std::optional<format::SnapshotHeaderV2> v2;
  std::size_t bytes = 0;

  // The CRC of the header's fields as its version lays them out: continued over the data, the file's CRC.
  uint32_t crc_seed() const {
    if (v1) return format::snapshot_crc(*v1, {});
    if (v2) return format::snapshot_crc(*v2, {});
    return format::snapshot_crc(header, {});
  }
};

// Reads `bytes` at `offset` of `fd` in pieces of at most 1 MiB, handing each to `use`.
template <class Use>
void for_each_piece(int fd, uint64_t offset, uint64_t bytes, const fs::path& path, Use use) {
  std::vector<std::byte> piece(std::min<uint64_t>(bytes, uint64_t{1} << 20));
  for (uint64_t at = 0; at < bytes; at += piece.size()) {
    const std::span<std::byte> part = std::span(piece).first(std::min<uint64_t>(piece.size(), bytes - at));
    read_all_at(fd, part.data(), part.size(), offset + at, path);
    use(std::span<const std::byte>(part));
  }
}

// A version other than a known one is a newer build's file or a bit flip in ours. Read as our own
// version, a flipped file checks out (its length and its CRC); a newer format's would not.
bool checks_out_as_ours(int fd, uint64_t size, const fs::path& path) {
  if (size < sizeof(SnapshotHeader)) return false;
  SnapshotHeader h;
  read_all_at(fd, &h, sizeof h, 0, path);
  if (h.data_bytes != size - sizeof h) return false;
  h.version = format::kSnapshotVersion;
  uint32_t crc = format::snapshot_crc(h, {});
  for_each_piece(fd, sizeof h, h.data_bytes, path,
                 [&](std::span<const std::byte> part) { crc = ipc::crc32c(part.data(), part.size(), crc); });
  return crc == h.crc;
}

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
    if (checks_out_as_ours(fd, size, path))
      throw damage("snapshot " + path.string() + " has format version " + std::to_string(v1.version) +
                   " but checks out as version " + std::to_string(format::kSnapshotVersion) + ": a bit flip");
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

struct OpenedSnapshot {
  UniqueFd fd;
  ReadHeader read;
};

// Opens the snapshot file and reads and checks its header, not its data; nullopt if there is none.
std::optional<OpenedSnapshot> open_snapshot(const fs::path& path) {
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
  return OpenedSnapshot{std::move(fd), read};
}

StorageError corrupt(const fs::path& path, uint64_t file_bytes) {
  return damage("snapshot " + path.string() + " is corrupt (CRC mismatch over its " +
                std::to_string(file_bytes) + " bytes)");
}

// Reads and checks the whole snapshot file; nullopt if there is none.
std::optional<Snapshot> read_snapshot(const fs::path& path) {
  const std::optional<OpenedSnapshot> opened = open_snapshot(path);
  if (!opened) return std::nullopt;
  const ReadHeader& read = opened->read;
  Snapshot snapshot;
  snapshot.meta = snapshot_meta_of(read.header);
  snapshot.data.resize(read.header.data_bytes);
  read_all_at(opened->fd.get(), snapshot.data.data(), snapshot.data.size(), read.bytes, path);
  if (read.header.crc != ipc::crc32c(snapshot.data.data(), snapshot.data.size(), read.crc_seed()))
    throw corrupt(path, read.bytes + read.header.data_bytes);
  return snapshot;
}

}  // namespace

SnapshotHeader snapshot_header(const SnapshotMeta& meta, uint64_t data_bytes) noexcept {
  SnapshotHeader header;
  header.last_index = meta.last_index;
  header.last_term = meta.last_term;
  header.voters = meta.voters;
  header.learners = meta.learners;
  header.repairing = meta.repairing;
  header.repair_incarnation = meta.repair_incarnation;
  header.data_bytes = data_bytes;
  return header;
}

SnapshotMeta snapshot_meta_of(const SnapshotHeader& header) noexcept {
  return {header.last_index, header.last_term, header.voters,
          header.learners,   header.repairing, header.repair_incarnation};
}

uint32_t snapshot_crc_seed(const SnapshotHeader& header) noexcept {
  return format::snapshot_crc(header, {});
}

void write_snapshot_file(const fs::path& path, const SnapshotMeta& meta, std::span<const std::byte> data) {
  write_snapshot_file(path, meta, data.size(), [data](const SnapshotPieceSink& write) {
    write(data, ipc::crc32c(data.data(), data.size()));
  });
}

void write_snapshot_file(const fs::path& path, const SnapshotMeta& meta, uint64_t data_bytes,
                         const std::function<void(const SnapshotPieceSink&)>& produce) {
  SnapshotHeader header = snapshot_header(meta, data_bytes);
  const UniqueFd fd = open_file(path, O_WRONLY | O_CREAT | O_TRUNC);
  uint64_t written = 0;
  uint64_t written_back = 0;
  uint32_t data_crc = 0;
  produce([&](std::span<const std::byte> piece, uint32_t crc_so_far) {
    if (piece.size() > data_bytes - written)
      throw StorageError("snapshot " + path.string() + ": more data than the " + std::to_string(data_bytes) +
                         " bytes announced");
    data_crc = crc_so_far;
    write_all_at(fd.get(), piece.data(), piece.size(), sizeof header + written, path);
    written += piece.size();
    if (written - written_back >= kWritebackBytes) {
      // Only a head start for the flush below, which reports any error.
      (void)::sync_file_range(fd.get(), static_cast<off_t>(sizeof header + written_back),
                              static_cast<off_t>(written - written_back), SYNC_FILE_RANGE_WRITE);
      written_back = written;
    }
  });
  if (written != data_bytes)
    throw StorageError("snapshot " + path.string() + ": " + std::to_string(written) +
                       " bytes of data, not the " + std::to_string(data_bytes) + " announced");
  header.crc = ipc::crc32c_combine(snapshot_crc_seed(header), data_crc, data_bytes);
  write_all_at(fd.get(), &header, sizeof header, 0, path);
  sync_file_data(fd.get(), path);
}

SnapshotReader::SnapshotReader(const fs::path& path) : path_(path) {
  std::optional<OpenedSnapshot> opened = open_snapshot(path);
  if (!opened) throw StorageError("no snapshot at " + path.string());
  const ReadHeader& read = opened->read;
  fd_ = std::move(opened->fd);
  meta_ = snapshot_meta_of(read.header);
  header_bytes_ = read.bytes;
  data_bytes_ = read.header.data_bytes;
  if (!read.v1 && !read.v2) {
    crc_ = read.header.crc;
    return;
  }
  // An older header: its CRC is checked and the current format's computed in the same pass.
  uint32_t theirs = read.crc_seed();
  uint32_t ours = snapshot_crc_seed(snapshot_header(meta_, data_bytes_));
  for_each_piece(fd_.get(), header_bytes_, data_bytes_, path, [&](std::span<const std::byte> part) {
    theirs = ipc::crc32c(part.data(), part.size(), theirs);
    ours = ipc::crc32c(part.data(), part.size(), ours);
  });
  if (theirs != read.header.crc) throw corrupt(path, header_bytes_ + data_bytes_);
  crc_ = ours;
}

void SnapshotReader::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset > data_bytes_ || out.size() > data_bytes_ - offset)
    throw StorageError("snapshot " + path_.string() + ": read of " + std::to_string(out.size()) +
                       " bytes at " + std::to_string(offset) + " past its " + std::to_string(data_bytes_) +
                       " bytes of data");
  read_all_at(fd_.get(), out.data(), out.size(), header_bytes_ + offset, path_);
}

SnapshotFile::SnapshotFile(fs::path snap_dir, StorageStats& stats, RecoveryReport& report)
    : dir_(std::move(snap_dir)), stats_(&stats) {
  const std::pair<fs::path, const char*> leftovers[] = {
      {fs::path(file()).concat(format::kTemporarySuffix), "an interrupted snapshot save"},
      {staged_file(), "a snapshot written off the loop and never installed"}};
  for (const auto& [leftover, what] : leftovers) {
    if (::unlink(leftover.c_str()) == 0)
      report.notes.push_back("snap/" + leftover.filename().string() + ": removed, " + what);
  }
  if (std::optional<Snapshot> snapshot = read_snapshot(file())) meta_ = snapshot->meta;
}

fs::path SnapshotFile::file() const {
  return dir_ / format::kSnapshotFileName;
}

fs::path SnapshotFile::staged_file() const {
  return fs::path(file()).concat(kStagedSuffix);
}

void SnapshotFile::save(const SnapshotMeta& meta, std::span<const std::byte> data) {
  const fs::path temporary = fs::path(file()).concat(format::kTemporarySuffix);
  try {
    write_snapshot_file(temporary, meta, data);
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
  ++stats_->flushes;
  rename_into_place(temporary, meta, true);
}

void SnapshotFile::install_staged(const SnapshotMeta& meta) {
  rename_into_place(staged_file(), meta, false);
}

void SnapshotFile::rename_into_place(const fs::path& from, const SnapshotMeta& meta, bool sync_dir) {
  if (::rename(from.c_str(), file().c_str()) != 0) throw_errno("cannot rename into place", from, errno);
  meta_ = meta;
  if (sync_dir) {
    sync_directory(dir_);
    ++stats_->flushes;
  }
}

std::optional<Snapshot> SnapshotFile::load() const {
  if (!meta_) return std::nullopt;
  return read_snapshot(file());
}

}  // namespace shmraft::storage
