#include "node/storage/node_storage.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>

#include "node/storage/file.h"
#include "node/storage/format.h"
#include "node/storage/hard_state_file.h"
#include "node/storage/segmented_log.h"
#include "node/storage/set_aside.h"
#include "node/storage/snapshot_file.h"

namespace shmraft::storage {

namespace fs = std::filesystem;

Durability parse_durability(std::string_view text) {
  if (text == "none") return Durability::none;
  if (text == "batch") return Durability::batch;
  if (text == "always") return Durability::always;
  throw std::invalid_argument("unknown durability mode '" + std::string(text) +
                              "' (expected none, batch or always)");
}

std::string_view to_string(Durability mode) noexcept {
  switch (mode) {
    case Durability::none:
      return "none";
    case Durability::batch:
      return "batch";
    case Durability::always:
      return "always";
  }
  return "unknown";
}

namespace {

constexpr std::size_t kMinSegmentBytes = 4096;
constexpr std::size_t kMaxSegmentBytes = std::size_t{1} << 30;

void check_options(const Options& options) {
  if (options.segment_bytes < kMinSegmentBytes || options.segment_bytes > kMaxSegmentBytes ||
      options.segment_bytes % 4096 != 0) {
    throw StorageError("segment_bytes " + std::to_string(options.segment_bytes) +
                       " must be a multiple of 4096 between 4 KiB and 1 GiB");
  }
}

// Makes sure `dir` is a writable directory, creating it if its parent exists. Returns whether it was
// created by this call.
bool prepare_directory(const fs::path& dir) {
  std::error_code error;
  const fs::file_status status = fs::status(dir, error);
  bool created = false;
  if (status.type() == fs::file_type::not_found) {
    fs::path parent = dir.parent_path();
    if (parent.empty()) parent = ".";
    if (!fs::is_directory(parent, error)) {
      throw StorageError("cannot create node directory " + dir.string() + ": its parent directory " +
                         parent.string() + " does not exist");
    }
    if (::mkdir(dir.c_str(), 0700) != 0) throw_errno("cannot create node directory", dir, errno);
    created = true;
  } else if (error) {
    throw StorageError("cannot inspect node directory " + dir.string() + ": " + error.message());
  } else if (status.type() != fs::file_type::directory) {
    throw StorageError("node directory " + dir.string() + " exists but is not a directory");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) throw_errno("node directory is not writable:", dir, errno);
  return created;
}

// Creates a subdirectory if missing; returns whether it did.
bool ensure_subdirectory(const fs::path& path) {
  if (::mkdir(path.c_str(), 0700) == 0) return true;
  if (errno != EEXIST) throw_errno("cannot create directory", path, errno);
  if (!fs::is_directory(path)) throw StorageError(path.string() + " exists but is not a directory");
  return false;
}

bool holds_segments(const fs::path& log_dir) {
  std::error_code error;
  for (fs::directory_iterator it(log_dir, error), end; !error && it != end; it.increment(error)) {
    if (format::parse_segment_file_name(it->path().filename().string())) return true;
  }
  return false;
}

}  // namespace

class NodeStorage::Impl {
 public:
  Impl(const fs::path& dir, const Options& options) : dir_(dir), options_(options) {
    check_options(options_);
    const bool created = prepare_directory(dir_);
    try {
      lock_.emplace(dir_);
      open_files();
    } catch (...) {
      // Leave nothing half-made behind: a directory this call created holds only what it made.
      if (created) {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
      }
      throw;
    }
  }

  ~Impl() {
    // A clean close publishes a staged hard state; a crash would only lose what was never promised.
    try {
      sync();
    } catch (...) {
    }
  }

  void open_files() {
    const fs::path meta_path = dir_ / format::kMetaFileName;
    const fs::path log_dir = dir_ / format::kLogDirName;
    const fs::path snap_dir = dir_ / format::kSnapshotDirName;
    bool made = ensure_subdirectory(log_dir);
    made = ensure_subdirectory(snap_dir) || made;
    if (made) {
      sync_directory(dir_);
      stats_.flushes += 1;
    }
    if (fs::exists(meta_path)) {
      meta_.emplace(HardStateFile::open(meta_path, options_.durability, stats_, report_));
    } else {
      // `meta` is created last when a directory is initialised, so its absence with segments or a
      // snapshot present means someone removed it: without the term and vote, this node could vote twice.
      if (holds_segments(log_dir)) {
        throw damage("hard state file " + meta_path.string() +
                     " is missing but the log holds segments; refusing to start without term and vote");
      }
      if (fs::exists(snap_dir / format::kSnapshotFileName)) {
        throw damage("hard state file " + meta_path.string() +
                     " is missing but a snapshot is present; refusing to start without term and vote");
      }
      meta_.emplace(HardStateFile::create(meta_path, options_.durability, stats_, report_));
      report_.created = true;  // also when the directory existed (empty, or emptied)
    }
    hard_state_ = meta_->newest();
    snapshot_.emplace(snap_dir, stats_, report_);
    SegmentedLog::Bounds bounds;
    bounds.commit = hard_state_.commit;
    bounds.watermark = meta_->watermark();
    bounds.snapshot = snapshot_->meta().value_or(SnapshotMeta{});
    SegmentedLog::DamageHandler on_damage;
    if (options_.lost_mark_on_damage != 0)
      on_damage = [this](const SegmentedLog::Damage& cut) { set_aside_log_damage(cut); };
    log_.emplace(SegmentedLog::recover(log_dir, options_, bounds, stats_, report_, on_damage));
    meta_->repair_damaged_slots(options_.lost_mark_on_damage);
    hard_state_ = meta_->newest();
    raise_watermark_after_recovery();
  }

  // Damage in the log is cut off only once what it costs is safe: a copy of the damaged part is set aside,
  // and the lost mark is stored with the watermark and commit index lowered to what the log keeps — durably,
  // so that a crash while the damage is removed leaves a node that knows it is lost (and a log that
  // reaches its watermark).
  void set_aside_log_damage(const SegmentedLog::Damage& cut) {
    const uint64_t mark = options_.lost_mark_on_damage;
    for (std::string& note : set_aside_damaged_part(dir_, mark, cut.zeroed, cut.removed))
      report_.notes.push_back(std::move(note));
    HardState marked = meta_->newest();
    marked.lost = mark;
    marked.commit = std::min(marked.commit, cut.kept_through);
    meta_->write(marked, cut.kept_through, durable());
  }

  // Recovery made every record it kept as durable as the mode promises, and the node may acknowledge a
  // record it holds without writing it again: the watermark covers them all before anything else happens.
  // A slot of an older version is upgraded here, whatever the watermark.
  void raise_watermark_after_recovery() {
    const uint32_t version = meta_->newest_version();
    if (meta_->watermark() >= log_->last_index() && version == format::kMetaVersion) return;
    if (version != format::kMetaVersion) {
      report_.notes.push_back("meta: hard state of format version " + std::to_string(version) +
                              " upgraded to version " + std::to_string(format::kMetaVersion) +
                              ", with the log's end (entry " + std::to_string(log_->last_index()) +
                              ") as the watermark: a loss of entries before this open cannot be detected");
    }
    meta_->write(hard_state_, log_->last_index(), durable());
  }

  bool durable() const noexcept { return options_.durability != Durability::none; }

  void save_hard_state(const HardState& state) {
    if (state.term < hard_state_.term) {
      throw StorageError("save_hard_state: term " + std::to_string(state.term) + " is below the saved term " +
                         std::to_string(hard_state_.term));
    }
    if (state.term == hard_state_.term && hard_state_.vote != 0 && state.vote != hard_state_.vote) {
      throw StorageError("save_hard_state: vote for " + std::to_string(state.vote) + " in term " +
                         std::to_string(state.term) + ", which already has a vote for " +
                         std::to_string(hard_state_.vote));
    }
    if (state.commit > log_->last_index()) {
      throw StorageError("save_hard_state: commit index " + std::to_string(state.commit) +
                         " is beyond the last log index " + std::to_string(log_->last_index()) +
                         " (append the Ready's entries first)");
    }
    hard_state_ = state;
    switch (options_.durability) {
      case Durability::batch:
        staged_ = true;
        break;
      case Durability::none:
      case Durability::always:
        write_meta();
        break;
    }
  }

  void sync() {
    log_->sync();
    if (staged_ || log_->last_index() > meta_->watermark()) {
      write_meta();
      staged_ = false;
    }
  }

  // Writes the hard state and, as the watermark, the log's end into `meta` (one slot, one store). Called
  // only where the whole log is as durable as the mode promises: in none and always after any append, in
  // batch by sync() after the log's flush. Flushed in batch and always when it holds a promise (a new
  // term, vote or lost mark), never for the watermark alone: a store survives every kill, and after a
  // power loss a watermark that lags only claims less than the log holds (an msync of `meta` per Ready
  // made an always-mode Ready of one record 3.6 times slower, bench_storage Append/always).
  void write_meta() {
    const uint64_t watermark = log_->last_index();
    if (hard_state_ == meta_->newest() && watermark == meta_->watermark()) return;
    const HardState& relied_on = meta_->relied_on();
    // The lost mark is a promise too: a restart must not forget it and vote (raft/core.h, "Lost state").
    const bool promise = hard_state_.term != relied_on.term || hard_state_.vote != relied_on.vote ||
                         hard_state_.lost != relied_on.lost;
    meta_->write(hard_state_, watermark, promise && durable());
  }

  // Lowers the watermark to `to`, durably, before entries above it are removed: a crash part-way through
  // the removal then leaves a log that still reaches the watermark. The state written is the one `meta`
  // holds already (in batch a staged one may cover entries not flushed yet).
  void lower_watermark(uint64_t to) {
    if (meta_->watermark() <= to) return;
    meta_->write(meta_->newest(), to, durable());
  }

  void truncate_suffix(uint64_t from_index) {
    if (from_index <= hard_state_.commit) {
      throw StorageError("truncate_suffix(" + std::to_string(from_index) +
                         ") would remove committed entries (commit index " +
                         std::to_string(hard_state_.commit) + ")");
    }
    const uint64_t snapshot_index = snapshot_->meta() ? snapshot_->meta()->last_index : 0;
    if (from_index <= snapshot_index) {
      throw StorageError("truncate_suffix(" + std::to_string(from_index) +
                         ") would remove entries of the snapshot (up to " + std::to_string(snapshot_index) +
                         ")");
    }
    lower_watermark(from_index - 1);
    log_->truncate_suffix(from_index);
  }

  uint64_t term(uint64_t index) const {
    if (log_->contains(index)) return log_->term(index);
    if (index == 0) return 0;
    const std::optional<SnapshotMeta>& snapshot = snapshot_->meta();
    if (snapshot && index == snapshot->last_index) return snapshot->last_term;
    throw std::out_of_range(out_of_range_message("term", index));
  }

  EntryView entry(uint64_t index) const {
    if (log_->contains(index)) return log_->entry(index);
    throw std::out_of_range(out_of_range_message("entry", index));
  }

  std::string out_of_range_message(const char* what, uint64_t index) const {
    return std::string(what) + "(" + std::to_string(index) + "): not in the log [" +
           std::to_string(log_->first_index()) + ", " + std::to_string(log_->last_index()) + "]";
  }

  void save_snapshot(const SnapshotMeta& meta, std::span<const std::byte> data) {
    refuse_older_snapshot(meta);
    const bool continues = log_continues(meta);
    if (!continues) lower_watermark(meta.last_index);
    snapshot_->save(meta, data);
    adopt_snapshot(meta, continues);
  }

  void install_snapshot_file(const SnapshotMeta& meta) {
    refuse_older_snapshot(meta);
    const bool continues = log_continues(meta);
    if (!continues) lower_watermark(meta.last_index);
    snapshot_->install_staged(meta);
    // A snapshot that replaces the log must be durable in snap/ before the segments go, or a power loss
    // could leave the old snapshot beside no log (only a journal's ordering prevents it otherwise).
    if (!continues && options_.durability != Durability::none) {
      sync_directory(dir_ / format::kSnapshotDirName);
      ++stats_.flushes;
    }
    adopt_snapshot(meta, continues);
  }

  void refuse_older_snapshot(const SnapshotMeta& meta) const {
    if (meta.last_index == 0) throw StorageError("save_snapshot: a snapshot must include at least entry 1");
    const std::optional<SnapshotMeta>& current = snapshot_->meta();
    if (current && meta.last_index < current->last_index) {
      throw StorageError("save_snapshot: snapshot at index " + std::to_string(meta.last_index) +
                         " is older than the saved one at " + std::to_string(current->last_index));
    }
  }

  // Raft's InstallSnapshot rule: keep the log only if it continues the snapshot. Decided before the
  // snapshot is written, so that a log about to go takes the watermark down with it first.
  bool log_continues(const SnapshotMeta& meta) const {
    if (log_->empty()) return log_->last_index() == meta.last_index;
    if (meta.last_index < log_->first_index()) return log_->first_index() == meta.last_index + 1;
    return log_->last_index() >= meta.last_index && log_->term(meta.last_index) == meta.last_term;
  }

  void adopt_snapshot(const SnapshotMeta& meta, bool continues) {
    if (continues) {
      log_->set_base(meta);
    } else {
      log_->reset_to(meta);
    }
  }

  void compact(uint64_t up_to_index) {
    const std::optional<SnapshotMeta>& snapshot = snapshot_->meta();
    if (!snapshot || up_to_index > snapshot->last_index) {
      throw StorageError("compact(" + std::to_string(up_to_index) +
                         "): only entries covered by a snapshot may go (snapshot ends at " +
                         std::to_string(snapshot ? snapshot->last_index : 0) + ")");
    }
    log_->compact(up_to_index);
  }

  fs::path dir_;
  Options options_;
  StorageStats stats_;
  RecoveryReport report_;
  std::optional<DirectoryLock> lock_;
  std::optional<HardStateFile> meta_;
  std::optional<SnapshotFile> snapshot_;
  std::optional<SegmentedLog> log_;
  HardState hard_state_;
  bool staged_ = false;
};

NodeStorage::NodeStorage(const fs::path& dir, const Options& options)
    : impl_(std::make_unique<Impl>(dir, options)) {}
NodeStorage::~NodeStorage() = default;
NodeStorage::NodeStorage(NodeStorage&&) noexcept = default;
NodeStorage& NodeStorage::operator=(NodeStorage&&) noexcept = default;

void NodeStorage::append(std::span<const LogEntry> entries) {
  impl_->log_->append(entries);
}
void NodeStorage::truncate_suffix(uint64_t from_index) {
  impl_->truncate_suffix(from_index);
}
uint64_t NodeStorage::first_index() const noexcept {
  return impl_->log_->first_index();
}
uint64_t NodeStorage::last_index() const noexcept {
  return impl_->log_->last_index();
}
uint64_t NodeStorage::term(uint64_t index) const {
  return impl_->term(index);
}
EntryView NodeStorage::entry(uint64_t index) const {
  return impl_->entry(index);
}
void NodeStorage::save_hard_state(const HardState& state) {
  impl_->save_hard_state(state);
}
const HardState& NodeStorage::hard_state() const noexcept {
  return impl_->hard_state_;
}
void NodeStorage::sync() {
  impl_->sync();
}
void NodeStorage::save_snapshot(const SnapshotMeta& meta, std::span<const std::byte> data) {
  impl_->save_snapshot(meta, data);
}
fs::path NodeStorage::snapshot_staging_file() const {
  return impl_->snapshot_->staged_file();
}
fs::path NodeStorage::snapshot_file() const {
  return impl_->snapshot_->file();
}
void NodeStorage::install_snapshot_file(const SnapshotMeta& meta) {
  impl_->install_snapshot_file(meta);
}
std::optional<SnapshotMeta> NodeStorage::snapshot_meta() const noexcept {
  return impl_->snapshot_->meta();
}
std::optional<Snapshot> NodeStorage::load_snapshot() const {
  return impl_->snapshot_->load();
}
void NodeStorage::compact(uint64_t up_to_index) {
  impl_->compact(up_to_index);
}
const fs::path& NodeStorage::dir() const noexcept {
  return impl_->dir_;
}
const Options& NodeStorage::options() const noexcept {
  return impl_->options_;
}
StorageStats NodeStorage::stats() const noexcept {
  return impl_->stats_;
}
const RecoveryReport& NodeStorage::recovery() const noexcept {
  return impl_->report_;
}

}  // namespace shmraft::storage
