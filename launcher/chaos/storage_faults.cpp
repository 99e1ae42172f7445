#include "launcher/chaos/storage_faults.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>

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
};

constexpr std::array<KindInfo, 9> kKinds{{
    {StorageFaultKind::committed_bit_flip, "committed-bit-flip"},
    {StorageFaultKind::committed_truncate, "committed-truncate"},
    {StorageFaultKind::committed_zero_tail, "committed-zero-tail"},
    {StorageFaultKind::missing_segment, "missing-segment"},
    {StorageFaultKind::corrupt_snapshot, "corrupt-snapshot"},
    {StorageFaultKind::uncommitted_bit_flip, "uncommitted-bit-flip"},
    {StorageFaultKind::uncommitted_damage, "uncommitted-damage"},
    {StorageFaultKind::corrupt_hard_state, "corrupt-hard-state"},
    {StorageFaultKind::wiped_directory, "wiped-directory"},
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
  std::vector<Record> records;  // above the snapshot, in log order

  std::vector<Record> committed() const {
    std::vector<Record> out;
    std::copy_if(records.begin(), records.end(), std::back_inserter(out),
                 [this](const Record& r) { return r.index <= commit; });
    return out;
  }
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

void zero_from(const fs::path& file, uint64_t offset) {
  const uint64_t size = fs::file_size(file);
  if (size <= offset) return;
  const std::vector<std::byte> zeros(size - offset);
  write_at(file, zeros.data(), zeros.size(), offset);
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

std::vector<fs::path> segment_files(const fs::path& node_dir) {
  std::vector<fs::path> segments;
  for (const auto& item : fs::directory_iterator(node_dir / format::kLogDirName)) {
    if (format::parse_segment_file_name(item.path().filename().string())) segments.push_back(item.path());
  }
  std::sort(segments.begin(), segments.end());
  return segments;
}

Layout read_layout(const fs::path& node_dir) {
  Layout layout;
  {
    const storage::NodeStorage opened(node_dir);
    layout.commit = opened.hard_state().commit;
    layout.snapshot_index = opened.snapshot_meta() ? opened.snapshot_meta()->last_index : 0;
  }
  for (const fs::path& segment : segment_files(node_dir)) {
    const int fd = ::open(segment.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw LauncherError("storage fault: cannot open " + segment.string());
    const uint64_t size = fs::file_size(segment);
    for (uint64_t offset = sizeof(format::SegmentHeader); offset + sizeof(format::RecordHeader) <= size;) {
      format::RecordHeader header;
      read_at(fd, &header, sizeof header, offset, segment);
      if (header.index == 0) break;
      if (header.index > layout.snapshot_index)
        layout.records.push_back({segment, header.index, offset, sizeof header + header.length});
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

std::vector<StorageFaultKind> all_storage_faults() {
  std::vector<StorageFaultKind> kinds;
  for (const KindInfo& k : kKinds) kinds.push_back(k.kind);
  return kinds;
}

std::optional<std::string> inject_storage_fault(StorageFaultKind kind, const fs::path& node_dir,
                                                std::mt19937_64& rng) {
  return damage_node_files(kind, node_dir, rng);
}

std::optional<std::string> zero_log_from(const fs::path& node_dir, uint64_t index) {
  const Layout layout = read_layout(node_dir);
  const auto from = std::find_if(layout.records.begin(), layout.records.end(),
                                 [index](const Record& r) { return r.index == index; });
  if (from == layout.records.end()) return std::nullopt;
  zero_from(from->segment, from->offset);
  for (const fs::path& later : segment_files(node_dir)) {
    if (later > from->segment) zero_from(later, sizeof(format::SegmentHeader));
  }
  return fmt::format("zeroed the log from entry {} ({} at offset {}) to its end (last entry {})", index,
                     relative_name(from->segment, node_dir), from->offset, layout.records.back().index);
}

namespace {

std::optional<std::string> corrupt_newest_hard_state_slot(const fs::path& node_dir, std::mt19937_64& rng) {
  const fs::path meta = node_dir / format::kMetaFileName;
  const int fd = ::open(meta.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::array<format::MetaSlot, 2> slots{};
  for (std::size_t i = 0; i < slots.size(); ++i)
    read_at(fd, &slots[i], sizeof slots[i], i * format::kMetaSlotStride, meta);
  ::close(fd);
  // Both slots intact, so that the older one still holds a hard state: the node must start lost on it,
  // not refuse a file without one (nor take back a slot an earlier fault left damaged).
  for (const format::MetaSlot& slot : slots) {
    if (slot.magic != format::kMetaMagic || slot.version != format::kMetaVersion || slot.sequence == 0 ||
        format::meta_slot_crc(slot) != slot.crc)
      return std::nullopt;
  }
  const std::size_t newest = slots[1].sequence > slots[0].sequence ? 1 : 0;
  const format::MetaSlot& slot = slots[newest];
  // Any bit, the CRC then fails — also one of the magic number or the version: a slot claiming a newer
  // version whose CRC does not hold is damage, not a newer build's file (node/storage/format.h).
  const uint64_t offset = newest * format::kMetaSlotStride + rng() % sizeof(format::MetaSlot);
  const int bit = flip_bit(meta, offset, rng);
  return fmt::format(
      "{}: bit {} of byte {} of meta flipped, in the newest slot (sequence {}, term {}, vote {}, "
      "commit {})",
      to_string(StorageFaultKind::corrupt_hard_state), bit, offset, slot.sequence, slot.term, slot.vote,
      slot.commit);
}

std::optional<std::string> wipe_directory(const fs::path& node_dir) {
  std::error_code ec;
  if (!fs::exists(node_dir, ec)) return std::nullopt;
  const auto files = fs::remove_all(node_dir);
  return fmt::format("{}: removed {} ({} files and directories)",
                     to_string(StorageFaultKind::wiped_directory), node_dir.string(), files);
}

std::optional<std::string> flip_uncommitted_bit(const fs::path& node_dir, std::mt19937_64& rng) {
  const Layout layout = read_layout(node_dir);
  std::vector<Record> followed;  // above the commit index, an intact record after it
  for (std::size_t i = 0; i + 1 < layout.records.size(); ++i) {
    if (layout.records[i].index > layout.commit) followed.push_back(layout.records[i]);
  }
  if (followed.empty()) return std::nullopt;
  const Record& record = followed[rng() % followed.size()];
  // The term or the payload: a flip of the index or length would hide where the next record starts,
  // which no recovery can tell from a torn write.
  const uint64_t payload = record.bytes - sizeof(format::RecordHeader);
  const uint64_t pick = rng() % (sizeof(uint64_t) + payload);
  const uint64_t offset = pick < sizeof(uint64_t)
                              ? record.offset + offsetof(format::RecordHeader, term) + pick
                              : record.offset + sizeof(format::RecordHeader) + pick - sizeof(uint64_t);
  const int bit = flip_bit(record.segment, offset, rng);
  return fmt::format(
      "{}: bit {} of byte {} flipped in {} (entry {} at offset {}, commit index {}, last entry {})",
      to_string(StorageFaultKind::uncommitted_bit_flip), bit, offset, relative_name(record.segment, node_dir),
      record.index, record.offset, layout.commit, layout.records.back().index);
}

// The log's tail above the commit index lost — zeroed, cut inside a record, or its last segment gone —
// behind entries the node synced and so may have acknowledged: recovery finds the log ending below the
// watermark (node/storage/recovery.cpp), where it once took the damage for a torn write.
std::optional<std::string> damage_uncommitted_tail(const fs::path& node_dir, std::mt19937_64& rng) {
  const Layout layout = read_layout(node_dir);
  std::vector<Record> above;
  std::copy_if(layout.records.begin(), layout.records.end(), std::back_inserter(above),
               [&layout](const Record& r) { return r.index > layout.commit; });
  if (above.empty()) return std::nullopt;
  const std::string_view kind = to_string(StorageFaultKind::uncommitted_damage);
  const Record& last_segment_start = *std::find_if(
      above.begin(), above.end(), [&](const Record& r) { return r.segment == above.back().segment; });
  const bool whole_segment_above = last_segment_start.offset == sizeof(format::SegmentHeader);
  switch (rng() % (whole_segment_above ? 3 : 2)) {
    case 0:
      return fmt::format("{}: {} (commit index {})", kind,
                         *zero_log_from(node_dir, above[rng() % above.size()].index), layout.commit);
    case 1: {
      const Record& record = above[rng() % above.size()];
      const uint64_t size = record.offset + rng() % record.bytes;
      fs::resize_file(record.segment, size);
      for (const fs::path& later : segment_files(node_dir)) {
        if (later > record.segment) fs::remove(later);
      }
      return fmt::format(
          "{}: {} cut to {} bytes inside entry {} at offset {}, later segments removed (commit "
          "index {}, last entry {})",
          kind, relative_name(record.segment, node_dir), size, record.index, record.offset, layout.commit,
          above.back().index);
    }
    default:
      fs::remove(last_segment_start.segment);
      return fmt::format("{}: removed the last segment {} (entries {} to {}; commit index {})", kind,
                         relative_name(last_segment_start.segment, node_dir), last_segment_start.index,
                         above.back().index, layout.commit);
  }
}

std::optional<std::string> damage_committed_record(StorageFaultKind kind, const fs::path& node_dir,
                                                   std::mt19937_64& rng) {
  const Layout layout = read_layout(node_dir);
  const std::vector<Record> committed = layout.committed();
  if (committed.empty()) return std::nullopt;
  const Record& record = committed[rng() % committed.size()];
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
      const uint64_t zeroed = fs::file_size(record.segment) - record.offset;
      zero_from(record.segment, record.offset);
      return fmt::format("{}: zeroed from {} to the end ({} bytes)", to_string(kind), where, zeroed);
    }
    default:  // missing_segment
      fs::remove(record.segment);
      return fmt::format("{}: removed {}, which holds committed entry {} (commit index {})", to_string(kind),
                         relative_name(record.segment, node_dir), record.index, layout.commit);
  }
}

}  // namespace

std::optional<std::string> damage_node_files(StorageFaultKind kind, const fs::path& node_dir,
                                             std::mt19937_64& rng) {
  switch (kind) {
    case StorageFaultKind::corrupt_snapshot: {
      const fs::path snapshot = node_dir / format::kSnapshotDirName / format::kSnapshotFileName;
      std::error_code ec;
      const uint64_t size = fs::file_size(snapshot, ec);
      if (ec || size == 0) return std::nullopt;
      const uint64_t offset = rng() % size;
      const int bit = flip_bit(snapshot, offset, rng);
      return fmt::format("{}: bit {} of byte {} of {} flipped", to_string(kind), bit, offset,
                         relative_name(snapshot, node_dir));
    }
    case StorageFaultKind::corrupt_hard_state:
      return corrupt_newest_hard_state_slot(node_dir, rng);
    case StorageFaultKind::wiped_directory:
      return wipe_directory(node_dir);
    case StorageFaultKind::uncommitted_bit_flip:
      return flip_uncommitted_bit(node_dir, rng);
    case StorageFaultKind::uncommitted_damage:
      return damage_uncommitted_tail(node_dir, rng);
    default:
      return damage_committed_record(kind, node_dir, rng);
  }
}

}  // namespace shmraft::launcher
