#include "launcher/chaos/storage_faults.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "launcher/launcher_error.h"
#include "node/storage/format.h"
#include "node/storage/node_storage.h"

namespace shmraft::launcher {

namespace fs = std::filesystem;
namespace format = storage::format;

namespace {

struct KindInfo {
  StorageFaultKind kind;
  std::string_view name;
  std::string_view refusal;  // empty: injected
};

constexpr std::array<KindInfo, 8> kKinds{{
    {StorageFaultKind::committed_bit_flip, "committed-bit-flip", ""},
    {StorageFaultKind::committed_truncate, "committed-truncate", ""},
    {StorageFaultKind::committed_zero_tail, "committed-zero-tail", ""},
    {StorageFaultKind::missing_segment, "missing-segment", ""},
    {StorageFaultKind::corrupt_snapshot, "corrupt-snapshot", ""},
    {StorageFaultKind::uncommitted_damage, "uncommitted-damage",
     "recovery takes damage above the saved commit index for a torn write and drops those entries, which "
     "the node may have acknowledged and a leader counted in a commit quorum: acknowledged writes can be "
     "lost until a damaged node is kept out of quorums and repaired from its peers (issue 14 item 2)"},
    {StorageFaultKind::corrupt_hard_state, "corrupt-hard-state",
     "recovery falls back to the older slot of `meta`, whose term and vote may be older than what the node "
     "last promised: it can vote twice in one term (issue 14 items 1 and 3)"},
    {StorageFaultKind::wiped_directory, "wiped-directory",
     "a wiped node now starts lost and is repaired by the leader (removed, re-added as a learner, "
     "promoted), but chaos does not yet tell a repaired node from damage that went unnoticed, so it "
     "cannot judge the run (issue 14 item 4)"},
}};

const KindInfo& info(StorageFaultKind kind) {
  return *std::find_if(kKinds.begin(), kKinds.end(), [kind](const KindInfo& k) { return k.kind == kind; });
}

struct Record {
  fs::path segment;
  uint64_t index = 0;
  uint64_t offset = 0;
  uint64_t bytes = 0;  // header and payload, the part the CRC covers (padding is not)
};

// What the node's storage says is committed, and where its records are.
struct Layout {
  uint64_t commit = 0;
  uint64_t snapshot_index = 0;
  std::vector<Record> committed;  // records above the snapshot and at or below the commit index
};

void read_at(int fd, void* data, std::size_t size, uint64_t offset, const fs::path& path) {
  if (::pread(fd, data, size, static_cast<off_t>(offset)) != static_cast<ssize_t>(size))
    throw LauncherError("storage fault: cannot read " + path.string());
}

void write_at(const fs::path& path, const void* data, std::size_t size, uint64_t offset) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  const bool ok =
      fd >= 0 && ::pwrite(fd, data, size, static_cast<off_t>(offset)) == static_cast<ssize_t>(size);
  if (fd >= 0) ::close(fd);
  if (!ok) throw LauncherError("storage fault: cannot write " + path.string());
}

// Flips a random bit of the byte at `offset`; returns which.
int flip_bit(const fs::path& file, uint64_t offset, std::mt19937_64& rng) {
  const int bit = static_cast<int>(rng() % 8);
  std::byte byte{};
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw LauncherError("storage fault: cannot open " + file.string());
  read_at(fd, &byte, 1, offset, file);
  ::close(fd);
  byte ^= std::byte{static_cast<unsigned char>(1u << bit)};
  write_at(file, &byte, 1, offset);
  return bit;
}

Layout read_layout(const fs::path& node_dir) {
  Layout layout;
  {
    const storage::NodeStorage opened(node_dir);
    layout.commit = opened.hard_state().commit;
    layout.snapshot_index = opened.snapshot_meta() ? opened.snapshot_meta()->last_index : 0;
  }
  std::vector<fs::path> segments;
  for (const auto& item : fs::directory_iterator(node_dir / format::kLogDirName)) {
    if (format::parse_segment_file_name(item.path().filename().string())) segments.push_back(item.path());
  }
  std::sort(segments.begin(), segments.end());
  for (const fs::path& segment : segments) {
    const int fd = ::open(segment.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw LauncherError("storage fault: cannot open " + segment.string());
    const uint64_t size = fs::file_size(segment);
    for (uint64_t offset = sizeof(format::SegmentHeader); offset + sizeof(format::RecordHeader) <= size;) {
      format::RecordHeader header;
      read_at(fd, &header, sizeof header, offset, segment);
      if (header.index == 0) break;
      if (header.index > layout.snapshot_index && header.index <= layout.commit)
        layout.committed.push_back({segment, header.index, offset, sizeof header + header.length});
      offset += format::record_bytes(header.length);
    }
    ::close(fd);
  }
  return layout;
}

std::string relative_name(const fs::path& file, const fs::path& node_dir) {
  return file.lexically_relative(node_dir).string();
}

}  // namespace

std::string_view to_string(StorageFaultKind kind) noexcept {
  return info(kind).name;
}

std::optional<StorageFaultKind> parse_storage_fault(std::string_view name) {
  for (const KindInfo& k : kKinds) {
    if (k.name == name) return k.kind;
  }
  return std::nullopt;
}

std::optional<std::string_view> refusal_reason(StorageFaultKind kind) noexcept {
  const std::string_view reason = info(kind).refusal;
  if (reason.empty()) return std::nullopt;
  return reason;
}

std::vector<StorageFaultKind> all_storage_faults() {
  std::vector<StorageFaultKind> kinds;
  for (const KindInfo& k : kKinds) kinds.push_back(k.kind);
  return kinds;
}

std::vector<StorageFaultKind> injected_storage_faults() {
  std::vector<StorageFaultKind> kinds;
  for (const KindInfo& k : kKinds) {
    if (k.refusal.empty()) kinds.push_back(k.kind);
  }
  return kinds;
}

std::optional<std::string> inject_storage_fault(StorageFaultKind kind, const fs::path& node_dir,
                                                std::mt19937_64& rng) {
  if (refusal_reason(kind)) {
    throw LauncherError(
        fmt::format("storage fault {} is not injected: {}", to_string(kind), *refusal_reason(kind)));
  }
  if (kind == StorageFaultKind::corrupt_snapshot) {
    const fs::path snapshot = node_dir / format::kSnapshotDirName / format::kSnapshotFileName;
    std::error_code ec;
    const uint64_t size = fs::file_size(snapshot, ec);
    if (ec || size == 0) return std::nullopt;
    const uint64_t offset = rng() % size;
    const int bit = flip_bit(snapshot, offset, rng);
    return fmt::format("{}: bit {} of byte {} of {} flipped", to_string(kind), bit, offset,
                       relative_name(snapshot, node_dir));
  }

  const Layout layout = read_layout(node_dir);
  if (layout.committed.empty()) return std::nullopt;
  const Record& record = layout.committed[rng() % layout.committed.size()];
  const std::string where =
      fmt::format("{} (entry {} at offset {}; commit index {})", relative_name(record.segment, node_dir),
                  record.index, record.offset, layout.commit);
  switch (kind) {
    case StorageFaultKind::committed_bit_flip: {
      const uint64_t offset = record.offset + rng() % record.bytes;
      const int bit = flip_bit(record.segment, offset, rng);
      return fmt::format("{}: bit {} of byte {} flipped in {}", to_string(kind), bit, offset, where);
    }
    case StorageFaultKind::committed_truncate: {
      const uint64_t size = record.offset + rng() % record.bytes;
      fs::resize_file(record.segment, size);
      return fmt::format("{}: cut to {} bytes inside {}", to_string(kind), size, where);
    }
    case StorageFaultKind::committed_zero_tail: {
      const uint64_t size = fs::file_size(record.segment);
      const std::vector<std::byte> zeros(size - record.offset);
      write_at(record.segment, zeros.data(), zeros.size(), record.offset);
      return fmt::format("{}: zeroed from {} to the end ({} bytes)", to_string(kind), where, zeros.size());
    }
    case StorageFaultKind::missing_segment:
      fs::remove(record.segment);
      return fmt::format("{}: removed {}, which holds committed entry {} (commit index {})", to_string(kind),
                         relative_name(record.segment, node_dir), record.index, layout.commit);
    default:
      return std::nullopt;  // unreachable: the refused kinds threw above, the snapshot returned
  }
}

}  // namespace shmraft::launcher
