#pragma once
// The durable state of one Raft node — its log, its hard state and its latest snapshot — kept in one
// directory that a single process owns at a time:
//
//   <dir>/meta              hard state (term, vote, commit, lost mark) and the watermark, in two CRC'd
//                           slots with a sequence number
//   <dir>/log/<first>.seg   preallocated, memory-mapped log segments named by their first index
//   <dir>/snap/snapshot     the latest snapshot (metadata + bytes)
//
// Independent of the Raft core's types: plain structs and spans in, zero-copy views out. format.h
// describes the bytes on disk; recovery.cpp explains what a crash leaves behind and what opening does
// about it.
//
// Contract with the node loop, once per Ready:
//   append(entries) / truncate_suffix(...)  ->  save_hard_state(hs)  ->  sync()  ->  only then send.
// sync() is what makes the Ready's writes as durable as the durability mode promises. Call it in every
// mode: in `none` it makes no system call, in `batch` it is the one msync of the Ready (and it writes the
// staged hard state), in `always` everything was already flushed by the calls themselves.
//
// The watermark: `meta` also holds the highest log index made durable before the node could acknowledge
// it (format.h). It rides on the hard state's slot — written with it, or by sync() when the log grew —
// so it costs a store into the mapped slot and no system call, in every mode (the slot is flushed only
// with a new term, vote or lost mark, as before). A truncation lowers it first, durably. An open that finds
// the log ending below it refuses with damage (set_aside.h): acknowledged entries are gone, whatever the
// commit index.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "node/storage/storage_error.h"

namespace shmraft::storage {

// What a write survives once sync() has returned:
//   none   — a kill of the process at any instant (MAP_SHARED pages live in the page cache), not a
//            power loss or kernel crash. No msync, no fsync on the append path.
//   batch  — also a power loss: sync() issues one msync over the log range(s) dirtied since the previous
//            sync (and flushes `meta` if term or vote changed). Call it once per Ready, before any vote
//            or acknowledgement leaves.
//   always — like batch, but append() itself msyncs each record as it is written.
enum class Durability { none, batch, always };

// "none" | "batch" | "always"; anything else throws std::invalid_argument naming the value.
Durability parse_durability(std::string_view text);
std::string_view to_string(Durability mode) noexcept;

struct Options {
  // Size of each preallocated segment file. A record larger than this gets a segment of its own, sized
  // to fit. A multiple of 4 KiB, between 4 KiB and 1 GiB.
  std::size_t segment_bytes = std::size_t{64} << 20;
  Durability durability = Durability::batch;
  // Non-zero: damage the open can survive with what stays verified is survived, the node marked lost with
  // this value (HardState::lost), durably before anything damaged is changed, so the loss cannot be
  // forgotten by a crash (state_detection.h). A damaged hard-state slot is replaced by the newest valid
  // state, marked; damage in the log — a bad record, a hole, a missing segment, a log ending below the
  // watermark — costs only what follows it: that part is set aside into damaged-<value>/ (set_aside.h),
  // the log keeps its verified prefix, and the watermark and saved commit index come down to its end
  // (recovery.cpp). Without it, all damage is refused. open_or_set_aside passes the start's incarnation.
  uint64_t lost_mark_on_damage = 0;
};

// One entry handed to append(). The payload is copied into the log; the span need not outlive the call.
struct LogEntry {
  uint64_t index = 0;
  uint64_t term = 0;
  std::span<const std::byte> payload;
  uint8_t type = 0;  // stored with the record and handed back as is (the Raft layer's EntryType)
};

// An entry read back from the log: the payload points straight into the segment's mapping. It stays
// valid until the entry is removed by truncate_suffix() or compact(), or the storage is destroyed.
struct EntryView {
  uint64_t term = 0;
  std::span<const std::byte> payload;
  uint8_t type = 0;
};

struct HardState {
  uint64_t term = 0;
  uint64_t vote = 0;  // 0 = voted for nobody in `term`
  uint64_t commit = 0;
  uint64_t lost = 0;  // non-zero: the node lost its state and is not repaired yet (raft::HardState::lost)
  friend bool operator==(const HardState&, const HardState&) = default;
};

struct SnapshotMeta {
  uint64_t last_index = 0;  // last log index the snapshot includes
  uint64_t last_term = 0;   // term of that entry
  // The configuration at last_index as node-id bit sets (bit n: node n); both 0: none recorded (a
  // version-1 file), which the core reads as its bootstrap voters.
  uint64_t voters = 0;
  uint64_t learners = 0;
  // The node being repaired after it lost state (0: none) and the lost start (raft::ConfState).
  uint32_t repairing = 0;
  uint64_t repair_incarnation = 0;
  friend bool operator==(const SnapshotMeta&, const SnapshotMeta&) = default;
};

struct Snapshot {
  SnapshotMeta meta;
  std::vector<std::byte> data;
};

// Counters for the node's live status (the "fsyncs" column) and for tests.
struct StorageStats {
  uint64_t flushes = 0;           // msync / fdatasync / fsync calls made for durability
  uint64_t segments_created = 0;  // segment files preallocated since open
  uint64_t segments_removed = 0;  // by compact(), truncate_suffix() or a snapshot that replaced the log
};

// What opening the directory found and repaired: every repair, every file removed and every damaged
// part skipped is one human-readable line in `notes` (for the node's log); none is silent.
struct RecoveryReport {
  uint64_t segments = 0;  // segment files holding the recovered log
  uint64_t entries = 0;   // entries recovered
  bool created = false;   // the directory held no storage yet and was initialised
  // Damaged slots of `meta` passed over for the other one (each also a note): the state saved last may
  // be among them, so term, vote and commit index may be older than this node last saved.
  uint64_t hard_state_slots_skipped = 0;
  // Non-empty: the damage in the log after which the open cut it back to its verified prefix
  // (Options::lost_mark_on_damage); the node is lost.
  std::string log_damage;
  std::vector<std::string> notes;  // e.g. "log/00000000000000000001.seg: torn record at offset 4096 ..."
};

class NodeStorage {
 public:
  // Opens (or, if `dir` does not exist but its parent does, creates) the node directory, takes its lock
  // (a record lock on <dir>/lock, which a forked child never holds: file.h) and recovers the log. Throws
  // StorageError when the directory is missing its parent or is unwritable, another process (or another
  // NodeStorage) holds it, a file has a newer format version, or acknowledged data is corrupt or missing —
  // the log ends below the watermark — (that one of kind kDamage: a node sets such files aside and is
  // repaired, set_aside.h; with Options::lost_mark_on_damage, damage in the log is cut off instead).
  explicit NodeStorage(const std::filesystem::path& dir, const Options& options = {});
  ~NodeStorage();
  NodeStorage(NodeStorage&&) noexcept;
  NodeStorage& operator=(NodeStorage&&) noexcept;
  NodeStorage(const NodeStorage&) = delete;
  NodeStorage& operator=(const NodeStorage&) = delete;

  // ---- log ----
  // Appends entries[0..n) after last_index(): indexes must be contiguous starting at last_index() + 1
  // and terms must not decrease. All or nothing: if a new segment cannot be preallocated (full disk)
  // nothing is written and StorageError is thrown.
  void append(std::span<const LogEntry> entries);
  // Removes every entry with index >= from_index. from_index must be above the saved commit index and
  // the snapshot; in modes batch/always the removal is durable when this returns. The watermark is lowered
  // below from_index first (flushed in batch/always).
  void truncate_suffix(uint64_t from_index);

  // The log holds [first_index(), last_index()]. When it is empty, last_index() is the snapshot's last
  // index (0 without a snapshot) and first_index() == last_index() + 1. Entries at or below the snapshot
  // index stay readable until compact() removes the segment holding them.
  uint64_t first_index() const noexcept;
  uint64_t last_index() const noexcept;
  // O(1) for the newest segment, O(log segments) otherwise. term(0) is 0 and term(snapshot index) is the
  // snapshot's term even after compaction; any other index outside the log throws std::out_of_range.
  uint64_t term(uint64_t index) const;
  EntryView entry(uint64_t index) const;

  // ---- hard state ----
  // Call after the Ready's append()/truncate_suffix(). In mode batch the state is staged and written to
  // `meta` by the next sync(), after the log range it covers is durable, so the commit index on disk never
  // exceeds the durable log; in modes none and always it is written at once (flushed at once in always
  // if term or vote changed). The term must not decrease, a vote once cast must not change within its
  // term, and the commit index must not exceed last_index().
  void save_hard_state(const HardState& state);
  const HardState& hard_state() const noexcept;  // the latest saved, staged or not

  // ---- durability ----
  void sync();

  // ---- snapshot and compaction ----
  // Writes snap/snapshot atomically (temporary file, fsync, rename, fsync of the directory) in every
  // mode. If the log does not hold the snapshot's last entry with its term, the log is discarded and the
  // next append starts at meta.last_index + 1 (Raft's InstallSnapshot rule), and the watermark is lowered
  // to meta.last_index before the snapshot is written. An older snapshot than the current one is refused.
  void save_snapshot(const SnapshotMeta& meta, std::span<const std::byte> data);
  // The same for a snapshot file another process wrote whole and flushed (write_snapshot_file in
  // snapshot_file.h) at snapshot_staging_file(): only renamed over snapshot_file(). Its bytes are not
  // read: the next open checks its CRC, as for any snapshot. The rename is durable once snap/ is fsynced
  // (the writer's job: node/process/forked_snapshot.h); compact() only after that.
  std::filesystem::path snapshot_staging_file() const;
  std::filesystem::path snapshot_file() const;
  void install_snapshot_file(const SnapshotMeta& meta);
  std::optional<SnapshotMeta> snapshot_meta() const noexcept;
  std::optional<Snapshot> load_snapshot() const;
  // Deletes whole segment files whose entries are all <= up_to_index, never the newest segment.
  // up_to_index must not exceed the snapshot's last index: only a snapshot makes entries disposable.
  void compact(uint64_t up_to_index);

  // ---- introspection ----
  const std::filesystem::path& dir() const noexcept;
  const Options& options() const noexcept;
  StorageStats stats() const noexcept;
  const RecoveryReport& recovery() const noexcept;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shmraft::storage
