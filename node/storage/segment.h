#pragma once
// One segment file of the log, mapped whole (MAP_SHARED) for as long as it exists, so entry views stay
// valid while later segments come and go. Knows its records' offsets (index -> offset in O(1)) and which
// bytes were written since the last flush.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "node/storage/file.h"
#include "node/storage/format.h"
#include "node/storage/node_storage.h"
#include "node/storage/segment_preparer.h"

namespace shmraft::storage {

class Segment {
 public:
  // Creates log/<first_index>.seg of `bytes` bytes. The file is preallocated and given its header under
  // a temporary name, made durable if `durable`, and only then renamed into place (followed by an fsync
  // of the directory if `durable`), so no crash leaves a half-made segment under a real name.
  static Segment create(const std::filesystem::path& log_dir, uint64_t first_index, std::size_t bytes,
                        bool durable, StorageStats& stats);
  // The same from a spare (segment_preparer.h), already preallocated and mapped: its header is written and
  // flushed with its size (if `durable`), then it is renamed into place as above.
  static Segment from_spare(SpareSegment&& spare, const std::filesystem::path& log_dir, uint64_t first_index,
                            bool durable, StorageStats& stats);
  // Maps an existing segment and checks its header: magic, format version (a newer one is refused),
  // first index equal to the one in the file name, CRC. Records are adopted later, by recovery.
  static Segment open_existing(const std::filesystem::path& file, uint64_t first_index_from_name);

  Segment(Segment&&) noexcept = default;
  Segment& operator=(Segment&&) noexcept = default;

  uint64_t first_index() const noexcept { return first_index_; }
  std::size_t count() const noexcept { return offsets_.size(); }
  bool empty() const noexcept { return offsets_.empty(); }
  uint64_t last_index() const noexcept { return first_index_ + offsets_.size() - 1; }  // first-1 if empty
  bool contains(uint64_t index) const noexcept {
    return index >= first_index_ && index - first_index_ < offsets_.size();
  }
  std::size_t end_offset() const noexcept { return end_; }
  std::size_t size_bytes() const noexcept { return mapping_.size(); }
  bool fits(std::size_t record_bytes) const noexcept { return mapping_.size() - end_ >= record_bytes; }
  const std::filesystem::path& path() const noexcept { return path_; }
  int fd() const noexcept { return fd_.get(); }
  std::span<const std::byte> bytes() const noexcept { return {mapping_.data(), mapping_.size()}; }

  // Writes one record at end_offset(); the caller has checked fits(), index continuity and term order.
  // The payload goes first and the header last, so a process killed in between leaves an all-zero
  // header — the end of the log — rather than a header promising bytes that are not there.
  void append(const LogEntry& entry) noexcept;

  format::RecordHeader header(uint64_t index) const noexcept;                // requires contains(index)
  EntryView entry(uint64_t index) const noexcept;                            // requires contains(index)
  uint64_t last_term() const noexcept { return header(last_index()).term; }  // requires !empty()

  // Forgets the records with index >= from and zeroes their bytes, newest record first and within a
  // record payload before header, so a kill part-way leaves a shorter but valid log whose end the next
  // scan recognises.
  void truncate_from(uint64_t from) noexcept;

  // Recovery: takes the records found by the scan, and zeroes bytes beyond the end that held garbage.
  void adopt_records(std::vector<uint32_t> offsets, std::size_t end);
  void zero(std::size_t from, std::size_t to) noexcept;
  // The active segment reserves room for as many offsets as it could ever hold, so appends never
  // allocate (the reservation is virtual memory until used).
  void reserve_for_appends();

  // Starts reading the written parts of the file into the page cache ahead of a scan (recovery reads
  // every record; one readahead request per data range beats a fault per 128 KiB).
  void prefetch() const noexcept;

  bool dirty() const noexcept { return dirty_from_ < dirty_to_; }
  // msync(MS_SYNC) of the pages written since the last flush.
  void flush_dirty(StorageStats& stats);
  void forget_dirty() noexcept { dirty_from_ = dirty_to_ = 0; }
  void flush_range(std::size_t from, std::size_t to, StorageStats& stats);

  // Unlinks the file; the mapping stays until the object is destroyed.
  void remove_file();

 private:
  Segment(std::filesystem::path path, UniqueFd fd, Mapping mapping, uint64_t first_index);
  void mark_dirty(std::size_t from, std::size_t to) noexcept;
  // Renames `temporary` to `path` (never over an existing file) and fsyncs the directory if `durable`.
  static void name_into_place(const std::filesystem::path& temporary, const std::filesystem::path& path,
                              bool durable, StorageStats& stats);

  std::filesystem::path path_;
  UniqueFd fd_;
  Mapping mapping_;
  uint64_t first_index_ = 0;
  std::vector<uint32_t> offsets_;  // offsets_[i] = file offset of record first_index_ + i
  std::size_t end_ = sizeof(format::SegmentHeader);
  std::size_t dirty_from_ = 0;
  std::size_t dirty_to_ = 0;
};

}  // namespace shmraft::storage
