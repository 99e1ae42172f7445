#include "node/storage/segmented_log.h"

#include <algorithm>
#include <iterator>
#include <string>

namespace shmraft::storage {

namespace fs = std::filesystem;

namespace {
constexpr std::size_t kPageBytes = 4096;
}

SegmentedLog::SegmentedLog(fs::path dir, const Options& options, StorageStats& stats)
    : dir_(std::move(dir)),
      options_(options),
      stats_(&stats),
      closer_(std::make_unique<SegmentCloser>()),
      preparer_(std::make_unique<SegmentPreparer>(dir_, options_.segment_bytes)) {
  planned_.reserve(4);
}

uint64_t SegmentedLog::first_index() const noexcept {
  for (const Segment& segment : segments_) {
    if (!segment.empty()) return segment.first_index();
  }
  return next_index_;
}

void SegmentedLog::refresh_last_term() noexcept {
  if (empty()) {
    last_term_ = next_index_ - 1 == base_.last_index ? base_.last_term : 0;
  } else {
    last_term_ = term(last_index());
  }
}

const Segment& SegmentedLog::segment_for(uint64_t index) const noexcept {
  // Almost every read is of the newest entries; older ones need a binary search over a few segments.
  if (index >= segments_.back().first_index()) return segments_.back();
  auto it = std::upper_bound(segments_.begin(), segments_.end(), index,
                             [](uint64_t i, const Segment& s) { return i < s.first_index(); });
  return *(it - 1);
}

std::size_t SegmentedLog::new_segment_bytes(std::size_t record_bytes) const noexcept {
  const std::size_t needed = sizeof(format::SegmentHeader) + record_bytes;
  return std::max(options_.segment_bytes, (needed + kPageBytes - 1) / kPageBytes * kPageBytes);
}

Segment SegmentedLog::new_segment(uint64_t first_index, std::size_t bytes) {
  if (bytes == options_.segment_bytes) {
    if (std::optional<SpareSegment> spare = preparer_->take()) {
      Segment segment = Segment::from_spare(std::move(*spare), dir_, first_index, durable(), *stats_);
      ++spares_taken_;
      return segment;
    }
  }
  return Segment::create(dir_, first_index, bytes, durable(), *stats_);
}

void SegmentedLog::remove_newest_segment() {
  segments_.back().remove_file();
  closer_->close_later(std::move(segments_.back()));
  segments_.pop_back();
  ++stats_->segments_removed;
}

void SegmentedLog::append(std::span<const LogEntry> entries) {
  if (entries.empty()) return;

  // Pass 1 checks every entry and plans the segments the batch needs, so that a full disk is found
  // before anything is written and a failed append leaves the log as it was.
  planned_.clear();
  uint64_t expected = next_index_;
  uint64_t previous_term = last_term();
  std::size_t room = segments_.empty() ? 0 : segments_.back().size_bytes() - segments_.back().end_offset();
  for (const LogEntry& entry : entries) {
    if (entry.index != expected) {
      throw StorageError(
          "append: entry index " + std::to_string(entry.index) + " where " + std::to_string(expected) +
          " was expected (the log must stay contiguous; last index " + std::to_string(last_index()) + ")");
    }
    if (entry.term < previous_term) {
      throw StorageError("append: entry " + std::to_string(entry.index) + " has term " +
                         std::to_string(entry.term) + ", lower than the term " +
                         std::to_string(previous_term) + " of the entry before it");
    }
    if (entry.payload.size() > format::kMaxPayloadBytes) {
      throw StorageError("append: entry " + std::to_string(entry.index) + " has a payload of " +
                         std::to_string(entry.payload.size()) + " bytes, above the limit of " +
                         std::to_string(format::kMaxPayloadBytes));
    }
    const std::size_t size = format::record_bytes(entry.payload.size());
    if (size > room) {
      const std::size_t bytes = new_segment_bytes(size);
      planned_.emplace_back(entry.index, bytes);
      room = bytes - sizeof(format::SegmentHeader);
    }
    room -= size;
    ++expected;
    previous_term = entry.term;
  }

  if (!planned_.empty()) {
    // An empty newest segment that cannot take even the first record would share its name with the
    // segment replacing it.
    if (!segments_.empty() && segments_.back().empty() && planned_.front().first == entries.front().index) {
      remove_newest_segment();
    }
    const std::size_t existing = segments_.size();
    try {
      for (const auto& [first_index, bytes] : planned_) {
        segments_.push_back(new_segment(first_index, bytes));
      }
    } catch (...) {
      while (segments_.size() > existing) remove_newest_segment();
      throw;
    }
  }

  // Pass 2 writes, placing records exactly as pass 1 planned: starting in the newest segment that
  // existed before (or the first new one) and moving on whenever a record does not fit.
  const std::size_t existing = segments_.size() - planned_.size();
  std::size_t current = existing == 0 ? 0 : existing - 1;
  for (const LogEntry& entry : entries) {
    const std::size_t size = format::record_bytes(entry.payload.size());
    while (!segments_[current].fits(size)) ++current;
    Segment& segment = segments_[current];
    const std::size_t offset = segment.end_offset();
    segment.append(entry);
    if (options_.durability == Durability::always) {
      segment.flush_range(offset, segment.end_offset(), *stats_);
      segment.forget_dirty();
    }
  }
  next_index_ = expected;
  last_term_ = previous_term;
}

void SegmentedLog::truncate_suffix(uint64_t from_index) {
  if (from_index == next_index_) return;
  if (from_index > next_index_ || from_index < first_index()) {
    throw StorageError("truncate_suffix(" + std::to_string(from_index) + "): outside the log [" +
                       std::to_string(first_index()) + ", " + std::to_string(last_index()) + "]");
  }
  // Newest segment first, so a crash part-way leaves a shorter contiguous log. The removed names are made
  // durable before any record is zeroed: a power loss must not bring a removed segment back behind a
  // hole (found by storage_power_loss_test), nor its indexes once they are written again elsewhere.
  bool removed = false;
  while (!segments_.empty() && segments_.back().first_index() >= from_index) {
    remove_newest_segment();
    removed = true;
  }
  if (removed && durable()) {
    sync_directory(dir_);
    ++stats_->flushes;
  }
  if (!segments_.empty()) {
    Segment& segment = segments_.back();
    segment.truncate_from(from_index);
    // Overwriting the zeroed bytes must not reach the disk before the zeroes do, or a power loss could
    // splice old entries after new ones; hence the flush now (rare: only on a conflicting leader).
    if (durable()) segment.flush_dirty(*stats_);
    segment.reserve_for_appends();
  }
  next_index_ = from_index;
  refresh_last_term();
}

void SegmentedLog::compact(uint64_t up_to_index) {
  // Oldest first, so a crash part-way leaves a log that starts later but has no hole. Not made durable:
  // a removal undone by a power loss leaves an old segment that recovery recognises and removes again.
  while (segments_.size() > 1 && !segments_.front().empty() &&
         segments_.front().last_index() <= up_to_index) {
    segments_.front().remove_file();
    closer_->close_later(std::move(segments_.front()));
    segments_.pop_front();
    ++stats_->segments_removed;
  }
}

void SegmentedLog::reset_to(const SnapshotMeta& snapshot) {
  const bool removed = !segments_.empty();
  while (!segments_.empty()) remove_newest_segment();
  if (removed && durable()) {
    sync_directory(dir_);
    ++stats_->flushes;
  }
  base_ = snapshot;
  next_index_ = snapshot.last_index + 1;
  refresh_last_term();
}

void SegmentedLog::sync() {
  // Only the newest segments are ever written, so the dirty ones are a suffix of the list. They are
  // flushed oldest first: a power loss between two flushes must leave a shorter log, not the newer
  // segment's records after a hole that recovery has to refuse (found by storage_power_loss_test).
  auto first_dirty = segments_.end();
  while (first_dirty != segments_.begin() && std::prev(first_dirty)->dirty()) --first_dirty;
  for (auto it = first_dirty; it != segments_.end(); ++it) {
    if (options_.durability == Durability::batch) {
      it->flush_dirty(*stats_);
    } else {
      it->forget_dirty();
    }
  }
}

}  // namespace shmraft::storage
