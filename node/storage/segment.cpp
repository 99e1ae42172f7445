#include "node/storage/segment.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

namespace shmraft::storage {

namespace fs = std::filesystem;
using format::RecordHeader;
using format::SegmentHeader;

Segment::Segment(fs::path path, UniqueFd fd, Mapping mapping, uint64_t first_index)
    : path_(std::move(path)), fd_(std::move(fd)), mapping_(std::move(mapping)), first_index_(first_index) {}

Segment Segment::create(const fs::path& log_dir, uint64_t first_index, std::size_t bytes, bool durable,
                        StorageStats& stats) {
  const fs::path path = log_dir / format::segment_file_name(first_index);
  const fs::path temporary = fs::path(path).concat(format::kTemporarySuffix);
  ::unlink(temporary.c_str());  // a leftover of an earlier failed attempt
  UniqueFd fd = open_file(temporary, O_RDWR | O_CREAT | O_EXCL);
  try {
    preallocate(fd.get(), bytes, temporary);
    SegmentHeader header;
    header.first_index = first_index;
    header.crc = format::segment_header_crc(header);
    write_all_at(fd.get(), &header, sizeof header, 0, temporary);
    if (durable) {
      sync_file_data(fd.get(), temporary);
      ++stats.flushes;
    }
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
  name_into_place(temporary, path, durable, stats);
  try {
    Mapping mapping(fd.get(), bytes, path);
    Segment segment(path, std::move(fd), std::move(mapping), first_index);
    segment.reserve_for_appends();
    ++stats.segments_created;
    return segment;
  } catch (...) {
    // Not yet part of the log: remove it, or a retry would find its name taken.
    ::unlink(path.c_str());
    throw;
  }
}

Segment Segment::from_spare(SpareSegment&& spare, const fs::path& log_dir, uint64_t first_index, bool durable,
                            StorageStats& stats) {
  const fs::path path = log_dir / format::segment_file_name(first_index);
  try {
    SegmentHeader header;
    header.first_index = first_index;
    header.crc = format::segment_header_crc(header);
    write_all_at(spare.fd.get(), &header, sizeof header, 0, spare.path);
    if (durable) {
      // The header's page, and with it the preallocated size; fdatasync would also write the spare's
      // populated pages of zeros.
      spare.mapping.flush(0, sizeof header, spare.path);
      ++stats.flushes;
    }
  } catch (...) {
    ::unlink(spare.path.c_str());
    throw;
  }
  name_into_place(spare.path, path, durable, stats);
  Segment segment(path, std::move(spare.fd), std::move(spare.mapping), first_index);
  try {
    segment.reserve_for_appends();
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
  ++stats.segments_created;
  return segment;
}

void Segment::name_into_place(const fs::path& temporary, const fs::path& path, bool durable,
                              StorageStats& stats) {
  // RENAME_NOREPLACE: an existing segment of that name is a bug to report, never data to overwrite.
  if (::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    throw_errno("cannot rename into place", temporary, error);
  }
  try {
    if (durable) {
      sync_directory(path.parent_path());
      ++stats.flushes;
    }
  } catch (...) {
    // Not yet part of the log: remove it, or a retry would find its name taken.
    ::unlink(path.c_str());
    throw;
  }
}

namespace {
// The most a newer version's segment header is read for its CRC.
constexpr uint64_t kLargestHeaderBytes = 4096;
}  // namespace

Segment Segment::open_existing(const fs::path& file, uint64_t first_index_from_name) {
  UniqueFd fd = open_file(file, O_RDWR);
  const uint64_t size = file_size(fd.get(), file);
  if (size < sizeof(SegmentHeader)) {
    throw damage("segment " + file.string() + " is " + std::to_string(size) +
                 " bytes long, shorter than its header");
  }
  SegmentHeader header;
  read_all_at(fd.get(), &header, sizeof header, 0, file);
  if (header.magic != format::kSegmentMagic) {
    throw damage("segment " + file.string() +
                 " has a bad magic number at offset 0: not a shmraft log segment");
  }
  if (header.version > format::kSegmentVersion) {
    // A newer build's header holds its own CRC (format.h); one of ours with a flipped version bit does not.
    std::vector<std::byte> head(std::min<uint64_t>(size, kLargestHeaderBytes));
    read_all_at(fd.get(), head.data(), head.size(), 0, file);
    if (!format::self_described_crc_holds(head, offsetof(SegmentHeader, header_bytes))) {
      throw damage("segment " + file.string() + " has a corrupt header at offset 0 (format version " +
                   std::to_string(header.version) + " with a CRC that does not hold)");
    }
    throw StorageError("segment " + file.string() + " has format version " + std::to_string(header.version) +
                       ", newer than this build understands (" + std::to_string(format::kSegmentVersion) +
                       ")");
  }
  if (header.version != 0 && header.version < format::kFirstSegmentVersionWithEntryTypes) {
    throw StorageError("segment " + file.string() + " has format version " + std::to_string(header.version) +
                       ", whose records carry no entry type; this build reads version " +
                       std::to_string(format::kSegmentVersion) +
                       " only and does not upgrade it: open it with the build that wrote it");
  }
  if (header.version == 0 || header.header_bytes != sizeof(SegmentHeader) ||
      header.crc != format::segment_header_crc(header)) {
    throw damage("segment " + file.string() + " has a corrupt header at offset 0 (bad CRC or fields)");
  }
  if (header.first_index != first_index_from_name) {
    throw damage("segment " + file.string() + " says its first index is " +
                 std::to_string(header.first_index) + ", but its name says " +
                 std::to_string(first_index_from_name));
  }
  if (size > (uint64_t{1} << 32)) {
    throw damage("segment " + file.string() + " is larger than 4 GiB, which this format never writes");
  }
  Mapping mapping(fd.get(), size, file);
  return Segment(file, std::move(fd), std::move(mapping), header.first_index);
}

void Segment::append(const LogEntry& entry) noexcept {
  const std::span<const std::byte> payload = entry.payload;
  const std::size_t offset = end_;
  const std::size_t size = format::record_bytes(payload.size());
  std::byte* record = mapping_.data() + offset;
  RecordHeader header;
  header.index = entry.index;
  header.term = entry.term;
  header.length = static_cast<uint32_t>(payload.size());
  header.type = entry.type;
  header.crc = format::record_crc(header, payload);
  if (!payload.empty()) std::memcpy(record + sizeof header, payload.data(), payload.size());
  std::memset(record + sizeof header + payload.size(), 0, size - sizeof header - payload.size());
  // Keep the compiler from moving the header store ahead of the payload (see the header comment); x86
  // stores become visible in program order, so a kill sees a prefix of these stores.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  std::memcpy(record, &header, sizeof header);
  offsets_.push_back(static_cast<uint32_t>(offset));
  end_ = offset + size;
  mark_dirty(offset, end_);
}

RecordHeader Segment::header(uint64_t index) const noexcept {
  RecordHeader header;
  std::memcpy(&header, mapping_.data() + offsets_[index - first_index_], sizeof header);
  return header;
}

EntryView Segment::entry(uint64_t index) const noexcept {
  const std::byte* record = mapping_.data() + offsets_[index - first_index_];
  RecordHeader header;
  std::memcpy(&header, record, sizeof header);
  return EntryView{header.term, {record + sizeof header, header.length}, header.type};
}

void Segment::truncate_from(uint64_t from) noexcept {
  if (from < first_index_) from = first_index_;
  std::size_t record_end = end_;
  while (!offsets_.empty() && last_index() >= from) {
    const std::size_t offset = offsets_.back();
    std::memset(mapping_.data() + offset + sizeof(RecordHeader), 0,
                record_end - offset - sizeof(RecordHeader));
    std::atomic_signal_fence(std::memory_order_seq_cst);
    std::memset(mapping_.data() + offset, 0, sizeof(RecordHeader));
    std::atomic_signal_fence(std::memory_order_seq_cst);
    mark_dirty(offset, record_end);
    offsets_.pop_back();
    record_end = offset;
  }
  end_ = record_end;
}

void Segment::prefetch() const noexcept {
  for (const auto& [begin, end] : data_ranges(fd_.get(), 0, mapping_.size())) {
    const uint64_t start = begin & ~uint64_t{4095};
    ::madvise(mapping_.data() + start, end - start, MADV_WILLNEED);
  }
}

void Segment::adopt_records(std::vector<uint32_t> offsets, std::size_t end) {
  offsets_ = std::move(offsets);
  end_ = end;
}

void Segment::zero(std::size_t from, std::size_t to) noexcept {
  if (from >= to) return;
  std::memset(mapping_.data() + from, 0, to - from);
  mark_dirty(from, to);
}

void Segment::reserve_for_appends() {
  offsets_.reserve(offsets_.size() + (mapping_.size() - end_) / sizeof(RecordHeader));
}

void Segment::mark_dirty(std::size_t from, std::size_t to) noexcept {
  if (dirty_from_ >= dirty_to_) {
    dirty_from_ = from;
    dirty_to_ = to;
    return;
  }
  if (from < dirty_from_) dirty_from_ = from;
  if (to > dirty_to_) dirty_to_ = to;
}

void Segment::flush_dirty(StorageStats& stats) {
  if (!dirty()) return;
  flush_range(dirty_from_, dirty_to_, stats);
  forget_dirty();
}

void Segment::flush_range(std::size_t from, std::size_t to, StorageStats& stats) {
  mapping_.flush(from, to, path_);
  ++stats.flushes;
}

void Segment::remove_file() {
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) throw_errno("cannot remove", path_, errno);
}

}  // namespace shmraft::storage
