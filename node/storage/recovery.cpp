// Opening the log: what a crash leaves behind in log/, and what recovery does about it.
//
// WHAT A CRASH CAN LEAVE BEHIND
//
// Records are written through a MAP_SHARED mapping. The stores land in the page cache, which belongs to
// the kernel, not to the process, so a process that is killed at any instant (SIGKILL, a crash, an abort)
// loses nothing it had stored. The only damage it can leave is in the one operation it was in the middle
// of:
//   * appending: the record being written is partial. Its payload is stored before its header, so either
//     its header is still all zero (the log simply ends there, with some payload bytes after it), or the
//     header is partly stored and fails its checks. Nothing valid follows it: the rest of the segment was
//     preallocated with fallocate and reads as zeros.
//   * creating a segment: a file named *.tmp. The real name appears only once the file is complete. A
//     spare prepared for the next roll (segment_preparer.h) is a *.tmp file too, empty and headerless.
//   * truncating a suffix: segment files are removed newest first, then the doomed records of the last
//     remaining segment are zeroed newest first (payload, then header). What is left is a shorter,
//     contiguous log, possibly ending in a partly zeroed record.
//   * compacting: segment files are removed oldest first, leaving a log that starts later.
//   * installing a snapshot: snap/snapshot is renamed into place first, then the segments are removed
//     newest first, leaving a log that no longer agrees with the snapshot.
//
// A power loss (or a kernel crash) is different: only what was flushed is certain. Mode none promises
// nothing across a power loss. Modes batch and always flush before anything is acknowledged and order
// their writes so that a flush never makes a state durable that a crash could not have produced:
//   * a segment is created, fdatasynced and its directory fsynced before any record goes into it;
//   * a truncation fsyncs the removal of whole segments away before it zeroes records, and flushes the
//     zeroes before the space is reused, so neither a removed segment behind a hole nor old entries after
//     new ones can come back;
//   * sync() flushes the dirty segments oldest first, so a power loss between two of its msyncs leaves a
//     shorter log, not a later segment's records behind a hole;
//   * the hard state is written to `meta` only after the log range it covers was flushed, so the saved
//     commit index never exceeds the durable log.
// What stays uncertain is the last, unfinished flush: its pages may reach the disk in any order and any
// subset, so the region after the last acknowledged record may hold any mix of new records, zeros and
// partial records.
//
// WHAT OPENING DOES
//
// 1. *.tmp files are leftovers of a segment creation, or spares, and are removed. Any other name that is
//    not a segment is refused: this directory is not what we think it is.
// 2. Each segment's header is checked (magic; format version, a newer or an older one refused (format.h
//    says why an old one is not upgraded); first index equal to
//    the file name; CRC), and its records are scanned forward. A record is good if its index is the next
//    one, its length fits the file, its CRC matches and its term is not below its predecessor's. The scan
//    stops at the first all-zero header (the preallocated rest of the file), at the end of the file, or
//    at the first record that is not good.
// 3. At the first record that is not good, at index e, we must decide between a torn tail and corruption.
//    It is a torn tail only if nothing valid comes after it: no record with a good CRC and an index >= e
//    further on in the file, and no later segment holding records. A kill tears only the record it was
//    writing, and truncation zeroes newest first, so a bad record followed by a valid one never comes from
//    a kill. A torn tail is discarded and its bytes zeroed (so that later appends cannot be confused by
//    them). Anything else is corruption and is refused, naming the file and the offset.
//    The watermark (format.h) sharpens this: `meta` says up to which index the log was durable before the
//    node could acknowledge anything — written after the log range it covers was made durable, lowered
//    before a truncation or a snapshot install removes entries — so a bad record at or below it is
//    corruption even with nothing after it; so is a log whose records end (at an all-zero header, a cut
//    file, a missing last segment) below it. A kill mid-append tears a record above it, which stays a torn
//    tail. The saved commit index bounds the same way (it never exceeds the durable log either), and is
//    the only bound in a `meta` of an older version, which had no watermark.
//    An all-zero header with a valid record after it is a zeroed hole in the log, not its end: refused.
//    Two cases this cannot tell apart, and how we err:
//      - A power loss during an unfinished flush in mode batch/always can leave a hole followed by valid
//        records that were never acknowledged. We refuse to open and name the place rather than guess;
//        a node then sets its files aside and is repaired from its peers (set_aside.h), which loses
//        nothing either way.
//      - Corruption of the very last record above the watermark, with nothing valid after it, looks
//        exactly like a torn write. It is discarded, with a note in the report. Every checksummed log
//        shares this blind spot; the watermark keeps it to entries this node never acknowledged.
// 4. Segments must continue one another. A hole between them is refused, except where everything before
//    the hole is covered by the snapshot: those are segments whose removal by compact() a power loss
//    undid, and they are removed again. A segment with no records at the end of the log is kept as the
//    place for the next append if it continues the log, and removed otherwise (a creation that a crash
//    interrupted before anything was written into it).
// 5. If the log does not hold the snapshot's last entry with the snapshot's term, or ends below it, a
//    snapshot install was interrupted: the log is discarded, as the install would have done. A log that
//    starts after snapshot + 1 is missing entries: refused.
// 6. The log must reach the watermark and the saved commit index; if it does not, acknowledged entries are
//    missing: refused (a missing last segment, or every segment, ends up here).
// Every refusal of corrupt or missing data above is StorageError::Kind::kDamage (set_aside.h repairs
// it); a name that does not belong and a format version this build does not read stay plain refusals.
//
// KEEPING THE VERIFIED PREFIX
//
// With a damage handler (NodeStorage's Options::lost_mark_on_damage, which a node process sets), damage in
// the log is not refused: everything before the first damage is verified — records whose CRC, index and
// term order hold, in segments that continue one another — and the log is cut back to it. The damage is
// where the refusal above would have been: a bad record that is not a torn tail, a zeroed hole, a segment
// with a damaged header, a hole or an overlap between segments, a log ending below the watermark. The cut
// ends at the snapshot when the prefix does not reach it (step 5). Before any of it changes, the handler
// copies `meta` and the segment to be zeroed, and hard-links the segments to be removed, into
// damaged-<incarnation>/, then stores the lost mark with the watermark and saved commit index lowered to
// the kept end, durably; only then are the segments removed (newest first) and the damaged segment's bytes
// after the kept records zeroed. A crash anywhere in between leaves either the damage, found again by the
// next open, or the cut log, with the mark already stored. The node starts lost (it may have acknowledged
// what it no longer holds) and its leader's probe finds where its log ends and sends the rest: entries,
// or a snapshot if the leader compacted them away. Damage outside the log — a corrupt snapshot, `meta`
// unreadable or missing — is still refused, and the node sets all its storage aside (set_aside.h).
// 7. In modes batch and always, every segment holding records is flushed (with the repairs): a process
//    killed between storing records and flushing them leaves them readable but not durable, and the
//    node will acknowledge records it already holds without writing them again.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "node/storage/segmented_log.h"
#include "node/storage/zero_scan.h"

namespace shmraft::storage {

namespace fs = std::filesystem;
using format::RecordHeader;

namespace {

enum class Stop { zero_header, end_of_file, bad_record };

struct Scan {
  std::vector<uint32_t> offsets;
  std::size_t end = 0;  // offset just past the last good record
  Stop stop = Stop::end_of_file;
  std::string problem;  // why the record at `end` is not good, for Stop::bad_record
};

bool all_zero(const RecordHeader& header) {
  static constexpr RecordHeader kZero{};
  return std::memcmp(&header, &kZero, sizeof header) == 0;
}

Scan scan_records(const Segment& segment) {
  Scan scan;
  const std::span<const std::byte> bytes = segment.bytes();
  std::size_t offset = sizeof(format::SegmentHeader);
  uint64_t index = segment.first_index();
  uint64_t previous_term = 0;
  for (;; ++index) {
    if (bytes.size() - offset < sizeof(RecordHeader)) {
      scan.stop = Stop::end_of_file;
      break;
    }
    RecordHeader header;
    std::memcpy(&header, bytes.data() + offset, sizeof header);
    if (all_zero(header)) {
      scan.stop = Stop::zero_header;
      break;
    }
    const std::size_t room = bytes.size() - offset;
    if (header.index == UINT64_MAX) {  // no index follows it: the log could not take its next entry
      scan.problem = "index 18446744073709551615, which no entry can have";
    } else if (header.index != index) {
      scan.problem =
          "index " + std::to_string(header.index) + " where " + std::to_string(index) + " was expected";
    } else if (format::record_bytes(header.length) > room) {
      scan.problem = "length " + std::to_string(header.length) + " runs past the end of the file";
    } else if (header.crc !=
               format::record_crc(header, bytes.subspan(offset + sizeof header, header.length))) {
      scan.problem = "CRC mismatch";
    } else if (header.term < previous_term) {
      scan.problem = "term " + std::to_string(header.term) + " below the previous entry's term " +
                     std::to_string(previous_term);
    }
    if (!scan.problem.empty()) {
      scan.stop = Stop::bad_record;
      break;
    }
    scan.offsets.push_back(static_cast<uint32_t>(offset));
    offset += format::record_bytes(header.length);
    previous_term = header.term;
  }
  scan.end = offset;
  return scan;
}

// Reads a segment's file in chunks with pread, for the scan that only looks for non-zero words. The tail
// it walks is mostly zeros that SEEK_DATA still reports as data: reading an unwritten extent through the
// mapping (appends, earlier recoveries) makes the kernel read a window around it into the page cache, and
// cached pages are data. Reading it through the fresh mapping would fault in its page-table entries,
// which on this VM cost more CPU than the scan (bench_storage RecoveryTail64MiB: 38-40 ms per open
// against 19-21 ms with pread); pread copies the same page-cache bytes into one small buffer. A short
// read falls back to the mapping.
class TailReader {
 public:
  explicit TailReader(const Segment& segment) : segment_(segment), buffer_(kChunk) {}

  // first_nonzero_word over [from, to) of the file, reading each chunk once while `from` only grows.
  std::size_t first_nonzero_word(std::size_t from, std::size_t to) {
    while (from < to) {
      if (from < chunk_begin_ || from >= chunk_end_) load(from, to);
      const std::size_t chunk_to = std::min(chunk_end_, to) - chunk_begin_;
      const std::size_t found = storage::first_nonzero_word(chunk_, from - chunk_begin_, chunk_to);
      if (found < chunk_to) return chunk_begin_ + found;
      from = chunk_begin_ + chunk_to;
    }
    return to;
  }

 private:
  static constexpr std::size_t kChunk = std::size_t{1} << 16;  // stays in L2 while it is scanned

  // Loads the chunk at `at` (a multiple of 8): up to the next multiple of kChunk (so reads stay aligned),
  // whole words up to `to`, within the file.
  void load(std::size_t at, std::size_t to) {
    const std::size_t size = segment_.bytes().size();
    const std::size_t n = std::min({kChunk - at % kChunk, (to - at + 7) & ~std::size_t{7}, size - at});
    const ssize_t got = ::pread(segment_.fd(), buffer_.data(), n, static_cast<off_t>(at));
    chunk_ = got == static_cast<ssize_t>(n) ? std::span<const std::byte>(buffer_.data(), n)
                                            : segment_.bytes().subspan(at, n);
    chunk_begin_ = at;
    chunk_end_ = at + n;
  }

  const Segment& segment_;
  std::vector<std::byte> buffer_;
  std::span<const std::byte> chunk_;
  std::size_t chunk_begin_ = 0;
  std::size_t chunk_end_ = 0;
};

// What lies after a segment's good records, which end at `from` (a multiple of 8).
struct Tail {
  // A record with a good CRC and an index >= the scan's min_index at or after from + 8: a bad record or
  // a zero header followed by one is not the log's end.
  std::optional<std::size_t> valid_record;
  // The end of the last non-zero word at or after `from`, or `from` if everything there is zero: the
  // garbage recovery zeroes. Known only when valid_record is not set (the scan stops there).
  std::size_t nonzero_end = 0;
};

// Reads the tail once for both: the cached tail of a preallocated segment is up to its whole size of
// zeros, read at every restart, so finding the record and the garbage's end in one pass halves a start's
// CPU there. Only the file's data ranges are searched: holes read as zeros and hold nothing. A header
// starts with its index, and min_index > 0 (no entry has index 0), so a position whose first word is zero
// holds no candidate: zeros are skipped a block at a time (zero_scan.h). Without min_index no record is
// searched for.
Tail scan_tail(const Segment& segment, std::size_t from, std::optional<uint64_t> min_index) {
  static_assert(offsetof(RecordHeader, index) == 0 && sizeof(RecordHeader::index) == 8);
  constexpr uint64_t kPlausibleIndexes = uint64_t{1} << 40;  // cheap filter before the CRC
  const std::span<const std::byte> bytes = segment.bytes();
  const std::size_t first_candidate = from + 8;
  Tail tail{std::nullopt, from};
  TailReader reader(segment);
  for (const auto& [begin, end] : data_ranges(segment.fd(), from, bytes.size())) {
    for (std::size_t pos = std::max<std::size_t>(begin, from) & ~std::size_t{7};
         (pos = reader.first_nonzero_word(pos, end)) < end; pos += 8) {
      tail.nonzero_end = std::min(pos + 8, bytes.size());
      if (!min_index || pos < first_candidate || bytes.size() - pos < sizeof(RecordHeader)) continue;
      RecordHeader header;
      std::memcpy(&header, bytes.data() + pos, sizeof header);
      if (header.index < *min_index || header.index - *min_index >= kPlausibleIndexes) continue;
      if (format::record_bytes(header.length) > bytes.size() - pos) continue;
      if (header.crc == format::record_crc(header, bytes.subspan(pos + sizeof header, header.length))) {
        tail.valid_record = pos;
        return tail;
      }
    }
  }
  return tail;
}

std::string relative_name(const Segment& segment) {
  return "log/" + segment.path().filename().string();
}

// The highest index recovery knows was durable, and so may have been acknowledged: the watermark, or the
// saved commit index where that is higher (a slot of an older version holds no watermark), and its name.
struct Acknowledged {
  uint64_t index = 0;
  std::string what;

  explicit Acknowledged(const SegmentedLog::Bounds& bounds)
      : index(std::max(bounds.commit, bounds.watermark)),
        what(bounds.watermark >= bounds.commit && bounds.watermark > 0
                 ? "the watermark " + std::to_string(bounds.watermark)
                 : "the saved commit index " + std::to_string(bounds.commit)) {}
};

std::string corruption(const Segment& segment, std::size_t offset, uint64_t index, const std::string& problem,
                       const std::string& because) {
  return "corrupt log: " + segment.path().string() + " at offset " + std::to_string(offset) + " (entry " +
         std::to_string(index) + "): " + problem + "; " + because +
         ", so this is not a torn write and recovery refuses to drop it";
}

// The first damage recovery found with a damage handler: the log is kept up to segment `segment` (the
// index among the segment files, by first index) and, with an offset, that segment's records before it.
struct Found {
  std::size_t segment = 0;
  std::optional<std::size_t> offset;
  std::string what;
};

}  // namespace

SegmentedLog SegmentedLog::recover(const fs::path& log_dir, const Options& options, const Bounds& bounds,
                                   StorageStats& stats, RecoveryReport& report,
                                   const DamageHandler& on_damage) {
  SegmentedLog log(log_dir, options, stats);
  log.base_ = bounds.snapshot;
  const uint64_t snapshot_index = bounds.snapshot.last_index;
  const uint64_t log_start = snapshot_index + 1;  // where a log with nothing older than the snapshot starts
  const Acknowledged acknowledged(bounds);
  bool names_changed = false;
  auto note = [&report](std::string text) { report.notes.push_back(std::move(text)); };

  // 1. Names.
  std::vector<std::pair<uint64_t, fs::path>> files;
  std::error_code error;
  for (fs::directory_iterator it(log_dir, error), end; !error && it != end; it.increment(error)) {
    const fs::path& path = it->path();
    const std::string name = path.filename().string();
    if (name.ends_with(format::kTemporarySuffix)) {
      if (::unlink(path.c_str()) != 0) throw_errno("cannot remove the leftover", path, errno);
      names_changed = true;
      note("log/" + name + ": removed, a segment whose creation was interrupted or a spare never used");
      continue;
    }
    const std::optional<uint64_t> first = format::parse_segment_file_name(name);
    if (!first || !it->is_regular_file()) {
      throw StorageError(
          "unexpected file " + path.string() +
          " in the log directory (only <20-digit first index>.seg segment files belong there)");
    }
    if (*first == 0) throw damage("segment " + path.string() + " claims first index 0, which no entry has");
    files.emplace_back(*first, path);
  }
  if (error) throw StorageError("cannot list " + log_dir.string() + ": " + error.message());
  std::sort(files.begin(), files.end());

  // 2. Headers and records. With a damage handler, a segment with a damaged header ends the kept log: it
  // and every later segment are cut off (the later ones are still opened, so that a refusal — a newer
  // format — stays a refusal).
  std::optional<Found> found;
  std::vector<Segment> segments;
  for (const auto& [first, path] : files) {
    try {
      Segment segment = Segment::open_existing(path, first);
      if (!found) segments.push_back(std::move(segment));
    } catch (const StorageError& error) {
      if (error.kind() != StorageError::Kind::kDamage || !on_damage) throw;
      if (!found) found = Found{segments.size(), std::nullopt, error.what()};
    }
  }
  std::vector<Scan> scans;
  for (const Segment& segment : segments) segment.prefetch();
  for (const Segment& segment : segments) scans.push_back(scan_records(segment));
  const std::size_t count = segments.size();
  std::vector<std::size_t> next_with_records(count + 1, count);  // first segment after k holding records
  for (std::size_t k = count; k-- > 0;) {
    next_with_records[k] =
        (k + 1 < count && !scans[k + 1].offsets.empty()) ? k + 1 : next_with_records[k + 1];
  }
  // A segment whose header is damaged may hold records: whatever is before it is not the log's end.
  const std::optional<std::string> damaged_header_follows =
      found ? std::optional(files[found->segment].second.string()) : std::nullopt;
  // Without a handler damage is refused; with one, the first found is where the kept log stops.
  auto cut_at = [&](std::size_t k, std::optional<std::size_t> offset, std::string what) {
    if (!on_damage) throw damage(what);
    found = Found{k, offset, std::move(what)};
  };

  // 3 and 4, segment by segment.
  std::deque<Segment>& kept = log.segments_;
  uint64_t expected = 0;  // the index the next kept segment must start at, once one is kept
  uint64_t previous_term = 0;
  for (std::size_t k = 0; k < count; ++k) {
    Segment& segment = segments[k];
    const Scan& scan = scans[k];
    const uint64_t stop_index = segment.first_index() + scan.offsets.size();
    const bool records_follow = next_with_records[k] < count || damaged_header_follows;
    std::optional<std::string> bad;  // damage after this segment's good records

    if (scan.stop == Stop::bad_record) {
      // What follows the record is named first: it shows where the damage is better than the bounds do.
      if (records_follow) {
        bad = corruption(
            segment, scan.end, stop_index, scan.problem,
            next_with_records[k] < count
                ? "the later segment " + segments[next_with_records[k]].path().string() + " holds entries"
                : "the later segment " + *damaged_header_follows + " may hold entries");
      } else if (const Tail tail = scan_tail(segment, scan.end, stop_index); tail.valid_record) {
        bad = corruption(segment, scan.end, stop_index, scan.problem,
                         "a valid record follows it at offset " + std::to_string(*tail.valid_record));
      } else if (stop_index <= acknowledged.index) {
        bad = corruption(segment, scan.end, stop_index, scan.problem,
                         "the entry is at or below " + acknowledged.what + ", so it was durable");
      } else {
        segment.zero(scan.end, tail.nonzero_end);
        note(relative_name(segment) + ": torn record at offset " + std::to_string(scan.end) + " (entry " +
             std::to_string(stop_index) + ": " + scan.problem + ") discarded, " +
             std::to_string(tail.nonzero_end - scan.end) + " bytes zeroed");
      }
    } else {
      if (const Tail tail = scan_tail(segment, scan.end, stop_index); tail.valid_record) {
        bad = corruption(segment, scan.end, stop_index, "all-zero record header",
                         "a valid record follows it at offset " + std::to_string(*tail.valid_record));
      } else if (!records_follow && stop_index <= acknowledged.index && stop_index > snapshot_index) {
        bad = corruption(segment, scan.end, stop_index, "the log ends here",
                         "entries up to " + acknowledged.what + " were durable and may be acknowledged");
      } else if (tail.nonzero_end > scan.end) {
        segment.zero(scan.end, tail.nonzero_end);
        note(relative_name(segment) + ": " + std::to_string(tail.nonzero_end - scan.end) +
             " bytes of an unfinished record after the last entry, at offset " + std::to_string(scan.end) +
             ", zeroed");
      }
    }
    if (bad && scan.offsets.empty()) {
      cut_at(k, std::nullopt, *bad);  // nothing of this segment is kept
      break;
    }
    if (bad && !on_damage) throw damage(*bad);

    if (scan.offsets.empty()) {
      // With records after it, an empty segment is a hole, reported by the continuity check of the next
      // one. At the end, it is where the next append goes if it continues the log.
      const uint64_t continues = kept.empty() ? log_start : expected;
      const bool trailing_keeper =
          !records_follow && segment.first_index() == continues && (kept.empty() || !kept.back().empty());
      if (!records_follow && !trailing_keeper) {
        segment.remove_file();
        ++stats.segments_removed;
        names_changed = true;
        note(relative_name(segment) + ": removed, an empty segment that does not continue the log (entry " +
             std::to_string(continues) + " comes next)");
        continue;
      }
    }

    if (!kept.empty() && segment.first_index() != expected) {
      if (segment.first_index() < expected) {
        cut_at(k, std::nullopt,
               "corrupt log: " + segment.path().string() + " starts at entry " +
                   std::to_string(segment.first_index()) + ", inside " + kept.back().path().string() +
                   " which reaches entry " + std::to_string(expected - 1));
        break;
      }
      if (expected - 1 > snapshot_index) {
        cut_at(k, std::nullopt,
               "corrupt log: entries " + std::to_string(expected) + " to " +
                   std::to_string(segment.first_index() - 1) + " are missing between " +
                   kept.back().path().string() + " and " + segment.path().string());
        break;
      }
      for (Segment& leftover : kept) {
        leftover.remove_file();
        ++stats.segments_removed;
        note(relative_name(leftover) + ": removed, covered by the snapshot and cut off from the log by a " +
             "hole (a compaction that a power loss partly undid)");
      }
      kept.clear();
      names_changed = true;
    }
    if (kept.empty() && !scan.offsets.empty() && segment.first_index() > log_start) {
      cut_at(k, std::nullopt,
             "corrupt log: " + segment.path().string() + " starts at entry " +
                 std::to_string(segment.first_index()) + " but the log must start by entry " +
                 std::to_string(log_start) + (snapshot_index > 0 ? " (just after the snapshot)" : "") +
                 ": entries are missing");
      break;
    }

    segment.adopt_records(scan.offsets, scan.end);
    if (!segment.empty()) {
      const uint64_t first_term = segment.header(segment.first_index()).term;
      if (!kept.empty() && first_term < previous_term) {
        cut_at(k, std::nullopt,
               corruption(segment, sizeof(format::SegmentHeader), segment.first_index(),
                          "term " + std::to_string(first_term) + " below the previous entry's term " +
                              std::to_string(previous_term),
                          "the record itself is intact"));
        break;
      }
      previous_term = segment.last_term();
    }
    expected = segment.last_index() + 1;
    kept.push_back(std::move(segment));
    if (bad) {
      cut_at(k, scan.end, *bad);
      break;
    }
  }
  log.next_index_ = kept.empty() ? log_start : expected;
  log.refresh_last_term();

  // The log stops at the damage found: what follows is handed to the handler, which sets it aside and
  // marks the loss, and only then zeroed and removed, newest first.
  const auto interrupted_install = [&] {
    if (snapshot_index == 0 || log.empty()) return false;
    return log.last_index() < snapshot_index ||
           (log.contains(snapshot_index) && log.term(snapshot_index) != bounds.snapshot.last_term);
  };
  const auto cut_back = [&](SegmentedLog::Damage cut) {
    on_damage(cut);
    report.log_damage = cut.what;
    note("log: " + cut.what + "; kept the log through entry " + std::to_string(cut.kept_through) +
         ", the damaged part set aside (" + std::to_string(cut.zeroed.size() + cut.removed.size()) +
         " segment file(s)), the node lost until repaired");
  };
  if (found) {
    SegmentedLog::Damage cut{found->what, interrupted_install() ? snapshot_index : log.last_index(), {}, {}};
    const std::size_t first_removed = found->offset ? found->segment + 1 : found->segment;
    const std::size_t zero_to =
        found->offset ? scan_tail(kept.back(), *found->offset, std::nullopt).nonzero_end : 0;
    if (found->offset && zero_to > *found->offset) cut.zeroed.push_back(kept.back().path());
    for (std::size_t j = first_removed; j < files.size(); ++j) cut.removed.push_back(files[j].second);
    cut_back(cut);
    for (auto it = cut.removed.rbegin(); it != cut.removed.rend(); ++it) {
      if (::unlink(it->c_str()) != 0 && errno != ENOENT) throw_errno("cannot remove", *it, errno);
      ++stats.segments_removed;
      names_changed = true;
    }
    if (found->offset) kept.back().zero(*found->offset, zero_to);
  }

  // 5. Agreement with the snapshot.
  if (interrupted_install()) {
    note("log: entries " + std::to_string(log.first_index()) + " to " + std::to_string(log.last_index()) +
         " discarded: they do not contain the snapshot's last entry " + std::to_string(snapshot_index) +
         " with term " + std::to_string(bounds.snapshot.last_term) + " (an interrupted snapshot install)");
    log.reset_to(bounds.snapshot);
  }

  // 6. The saved commit index and the watermark must be inside what we have (the damage handler lowered
  // both to what it kept).
  if (!found && log.last_index() < acknowledged.index) {
    const std::string missing = "corrupt log: " + log_dir.string() + " ends at entry " +
                                std::to_string(log.last_index()) + ", below " + acknowledged.what +
                                ": acknowledged entries are missing";
    if (!on_damage) throw damage(missing);
    cut_back({missing, log.last_index(), {}, {}});
  }

  // Repairs are made as durable as the mode promises before anything new is written, and so is every
  // record found: the process before us may have been killed between storing records and flushing them,
  // and a node acknowledges a record it already holds without writing it again (a follower answering a
  // leader that resends it), so a record must not be in the log unless it is durable.
  for (Segment& segment : kept) {
    if (log.durable()) {
      segment.flush_dirty(stats);
      if (!segment.empty()) segment.flush_range(0, segment.end_offset(), stats);
    } else {
      segment.forget_dirty();
    }
  }
  if (names_changed && log.durable()) {
    sync_directory(log_dir);
    ++stats.flushes;
  }
  if (!kept.empty()) kept.back().reserve_for_appends();
  report.segments = kept.size();
  report.entries = log.empty() ? 0 : log.last_index() - log.first_index() + 1;
  return log;
}

}  // namespace shmraft::storage
