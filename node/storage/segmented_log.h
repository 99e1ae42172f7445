#pragma once
// The log as a run of contiguous segments in log/, oldest first. Appends go to the newest segment; a
// record that does not fit starts a new one named by its index. truncate_suffix() removes newest-first,
// compact() removes whole segments oldest-first; either way every intermediate state a crash can expose
// is a contiguous log (recovery.cpp relies on this).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "node/storage/node_storage.h"
#include "node/storage/segment.h"
#include "node/storage/segment_closer.h"
#include "node/storage/segment_preparer.h"

namespace shmraft::storage {

class SegmentedLog {
 public:
  // What the rest of the node directory says about the log: recovery uses these to tell acknowledged
  // entries from a torn tail, and to recognise an interrupted compaction or snapshot install.
  struct Bounds {
    uint64_t commit = 0;     // saved commit index: every entry up to it was durable before it was saved
    uint64_t watermark = 0;  // the saved watermark: every entry up to it was durable and may be acknowledged
    SnapshotMeta snapshot;   // {0, 0} without a snapshot
  };

  // Damage the log can be cut back from (recovery.cpp, "keeping the verified prefix"): what the open must
  // set aside and mark before recovery changes any of it.
  struct Damage {
    std::string what;           // the damage, as a refusal would name it
    uint64_t kept_through = 0;  // the last index the log keeps (the snapshot's, if it keeps no entry)
    std::vector<std::filesystem::path> zeroed;   // a segment whose bytes after the kept records get zeroed
    std::vector<std::filesystem::path> removed;  // segments removed whole
  };
  // Called at most once, before anything of the damage is changed; it must make the loss durable (the
  // lost mark, the watermark lowered to kept_through) and keep a copy of the damaged files.
  using DamageHandler = std::function<void(const Damage&)>;

  // Scans log/ and repairs what a crash may have left (see recovery.cpp), or throws StorageError. With a
  // handler, damage in the log is cut off after the handler ran instead of refused.
  static SegmentedLog recover(const std::filesystem::path& log_dir, const Options& options,
                              const Bounds& bounds, StorageStats& stats, RecoveryReport& report,
                              const DamageHandler& on_damage = {});

  SegmentedLog(SegmentedLog&&) noexcept = default;
  SegmentedLog& operator=(SegmentedLog&&) noexcept = default;

  bool empty() const noexcept { return first_index() == next_index_; }
  uint64_t first_index() const noexcept;
  uint64_t last_index() const noexcept { return next_index_ - 1; }
  bool contains(uint64_t index) const noexcept { return index >= first_index() && index < next_index_; }
  // Term of last_index(), or of the snapshot when the log is empty.
  uint64_t last_term() const noexcept { return last_term_; }

  // Both require contains(index).
  uint64_t term(uint64_t index) const noexcept { return segment_for(index).header(index).term; }
  EntryView entry(uint64_t index) const noexcept { return segment_for(index).entry(index); }

  void append(std::span<const LogEntry> entries);
  void truncate_suffix(uint64_t from_index);
  void compact(uint64_t up_to_index);
  // Discards every entry; the next append starts right after `snapshot`.
  void reset_to(const SnapshotMeta& snapshot);
  // Records the snapshot that the log now continues (its term is last_term() of an empty log).
  void set_base(const SnapshotMeta& snapshot) noexcept {
    base_ = snapshot;
    refresh_last_term();
  }
  void sync();

  std::size_t segment_count() const noexcept { return segments_.size(); }
  // Whether the next roll finds its segment prepared (segment_preparer.h), and how many rolls did: for tests.
  bool spare_ready() { return preparer_->ready(); }
  uint64_t spares_taken() const noexcept { return spares_taken_; }

 private:
  SegmentedLog(std::filesystem::path dir, const Options& options, StorageStats& stats);

  const Segment& segment_for(uint64_t index) const noexcept;
  bool durable() const noexcept { return options_.durability != Durability::none; }
  std::size_t new_segment_bytes(std::size_t record_bytes) const noexcept;
  // A segment of `bytes` starting at `first_index`: the prepared spare if it fits, else a new file.
  Segment new_segment(uint64_t first_index, std::size_t bytes);
  void remove_newest_segment();
  void refresh_last_term() noexcept;

  std::filesystem::path dir_;
  Options options_;
  StorageStats* stats_;
  std::deque<Segment> segments_;
  uint64_t next_index_ = 1;
  SnapshotMeta base_;
  uint64_t last_term_ = 0;  // cached: every append checks it
  // Segments append() must create, as (first index, bytes); kept to avoid allocating per call.
  std::vector<std::pair<uint64_t, std::size_t>> planned_;
  // Removed segments are unlinked here and closed there (see segment_closer.h). A pointer keeps the log
  // movable.
  std::unique_ptr<SegmentCloser> closer_;
  // The next segment, made ready off the loop (see segment_preparer.h).
  std::unique_ptr<SegmentPreparer> preparer_;
  uint64_t spares_taken_ = 0;
};

}  // namespace shmraft::storage
