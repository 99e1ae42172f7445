#pragma once
// `meta`: the hard state in two slots, each CRC'd, carrying a sequence number, each on its own page. An
// update goes to the slot that does NOT hold the state someone may rely on, so a write torn by a kill or
// a power loss leaves that state readable:
//   mode none         — the newest slot is relied on (a kill keeps every completed store), so slots
//                       alternate on every write;
//   modes batch/always — the newest *flushed* slot is relied on; writes that need no flush (a new commit
//                       index) keep overwriting the other slot until one is flushed, and only then do the
//                       roles swap.
// Each slot also holds the watermark (format.h): the hard state and the watermark are written together.
// Opening takes the valid slot with the higher sequence number. A damaged slot (bad magic number, CRC
// mismatch, a version field no build wrote with that CRC) is never silent: it goes into the RecoveryReport
// (a note and hard_state_slots_skipped) and is zeroed — or replaced by a lost mark,
// Options::lost_mark_on_damage — once the directory opened, since the state saved last may
// have been in it.
#include <cstdint>
#include <filesystem>
#include <vector>

#include "node/storage/file.h"
#include "node/storage/format.h"
#include "node/storage/node_storage.h"

namespace shmraft::storage {

class HardStateFile {
 public:
  // Creates `path` holding the zero hard state (temporary file, fdatasync, rename, fsync of the
  // directory), then opens it.
  static HardStateFile create(const std::filesystem::path& path, Durability durability, StorageStats& stats,
                              RecoveryReport& report);
  // Maps `path` and reads the newest valid slot. Refuses a slot of a newer format version (one whose
  // self-described CRC holds, format.h) and a file in which neither slot is valid; a damaged slot passed
  // over goes into `report` (a never written one is normal).
  static HardStateFile open(const std::filesystem::path& path, Durability durability, StorageStats& stats,
                            RecoveryReport& report);

  const HardState& newest() const noexcept { return newest_; }
  // The newest slot's watermark (0 in a slot of version 1 or 2, which had none) and format version.
  uint64_t watermark() const noexcept { return watermark_; }
  uint32_t newest_version() const noexcept { return newest_version_; }
  // The state a power loss cannot take back (in mode none: the newest).
  const HardState& relied_on() const noexcept { return relied_on_; }
  // Makes the damaged slots open() reported harmless, once the whole directory opened (a refused open
  // leaves the files as they were). With `lost_mark` 0 they are zeroed, making them "never written" (the
  // next write's target anyway), so the damage is reported once, by the open that repaired it. Otherwise
  // the newest state marked lost (HardState::lost = lost_mark) is written over them — flushed in modes
  // batch/always — so that no later start, even one after a crash before the node itself wrote anything,
  // takes the older state for an intact one (state_detection.h).
  void repair_damaged_slots(uint64_t lost_mark);
  // Writes `state` and `watermark` into the slot not relied on; with `flush` (modes batch/always) msyncs
  // that page, after which it is the one relied on.
  void write(const HardState& state, uint64_t watermark, bool flush);

 private:
  HardStateFile(std::filesystem::path path, UniqueFd fd, Mapping mapping, Durability durability,
                StorageStats& stats);

  std::filesystem::path path_;
  UniqueFd fd_;
  Mapping mapping_;
  Durability durability_;
  StorageStats* stats_;
  uint64_t sequence_ = 0;
  int relied_on_slot_ = 0;
  HardState newest_;
  uint64_t watermark_ = 0;
  uint32_t newest_version_ = format::kMetaVersion;
  HardState relied_on_;
  std::vector<int> damaged_slots_;
};

}  // namespace shmraft::storage
