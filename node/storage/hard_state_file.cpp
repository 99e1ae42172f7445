#include "node/storage/hard_state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace shmraft::storage {

namespace fs = std::filesystem;
using format::MetaSlot;

namespace {

std::size_t slot_offset(int slot) {
  return static_cast<std::size_t>(slot) * format::kMetaSlotStride;
}

MetaSlot make_slot(const HardState& state, uint64_t watermark, uint64_t sequence) {
  MetaSlot slot;
  slot.sequence = sequence;
  slot.term = state.term;
  slot.vote = state.vote;
  slot.commit = state.commit;
  slot.lost = state.lost;
  slot.watermark = watermark;
  slot.crc = format::meta_slot_crc(slot);
  return slot;
}

// All zero: a slot no write has reached yet (the second one of a new file), not damage.
bool never_written(const std::byte* at) {
  static constexpr std::byte kZero[sizeof(MetaSlot)] = {};
  return std::memcmp(at, kZero, sizeof kZero) == 0;
}

// A slot of an older version in the current layout: a node that is not lost (version 1), with no
// watermark. The version is kept, so that the open knows to upgrade it.
template <class Old>
std::string read_old_slot(const std::byte* at, MetaSlot& slot) {
  Old old;
  std::memcpy(&old, at, sizeof old);
  if (old.crc != format::meta_slot_crc(old)) return "CRC mismatch";
  slot = MetaSlot{};
  slot.version = old.version;
  slot.sequence = old.sequence;
  slot.term = old.term;
  slot.vote = old.vote;
  slot.commit = old.commit;
  if constexpr (requires { old.lost; }) slot.lost = old.lost;
  return {};
}

// Reads the slot at `at` into `slot` (an older version's in the current layout); returns why it cannot be
// used, or empty if it can. A newer format version is an error, not a bad slot.
std::string read_slot(const std::byte* at, MetaSlot& slot, const fs::path& path, int index) {
  std::memcpy(&slot, at, sizeof slot);
  if (slot.magic != format::kMetaMagic) return "bad magic number";
  if (slot.version > format::kMetaVersion) {
    if (!format::self_described_crc_holds({at, format::kMetaSlotStride}, format::kMetaSlotBytesOffset)) {
      return "format version " + std::to_string(slot.version) +
             " with a CRC that does not hold (a damaged version field, not a newer file)";
    }
    throw StorageError("hard state file " + path.string() + " slot " + std::to_string(index) +
                       " has format version " + std::to_string(slot.version) +
                       ", newer than this build understands (" + std::to_string(format::kMetaVersion) + ")");
  }
  std::string problem;
  if (slot.version == 1) {
    problem = read_old_slot<format::MetaSlotV1>(at, slot);
  } else if (slot.version == 2) {
    problem = read_old_slot<format::MetaSlotV2>(at, slot);
  } else if (slot.slot_bytes != sizeof slot || slot.crc != format::meta_slot_crc(slot)) {
    problem = "CRC mismatch";
  }
  if (!problem.empty()) return problem;
  if (slot.version == 0 || slot.sequence == 0) return "version or sequence number 0";
  // No write reaches it, and the next write's sequence number would wrap to 0 (found by the fuzzer once
  // the open wrote an upgraded slot after one).
  if (slot.sequence == UINT64_MAX) return "sequence number 18446744073709551615";
  return {};
}

}  // namespace

HardStateFile::HardStateFile(fs::path path, UniqueFd fd, Mapping mapping, Durability durability,
                             StorageStats& stats)
    : path_(std::move(path)),
      fd_(std::move(fd)),
      mapping_(std::move(mapping)),
      durability_(durability),
      stats_(&stats) {}

HardStateFile HardStateFile::create(const fs::path& path, Durability durability, StorageStats& stats,
                                    RecoveryReport& report) {
  std::byte page[format::kMetaFileBytes] = {};
  const MetaSlot first = make_slot(HardState{}, 0, 1);
  std::memcpy(page, &first, sizeof first);
  write_file_atomically(path, {std::span<const std::byte>(page)});
  stats.flushes += 2;
  return open(path, durability, stats, report);
}

HardStateFile HardStateFile::open(const fs::path& path, Durability durability, StorageStats& stats,
                                  RecoveryReport& report) {
  UniqueFd fd = open_file(path, O_RDWR);
  const uint64_t size = file_size(fd.get(), path);
  if (size != format::kMetaFileBytes) {
    throw damage("hard state file " + path.string() + " is " + std::to_string(size) + " bytes long, not " +
                 std::to_string(format::kMetaFileBytes));
  }
  Mapping mapping(fd.get(), format::kMetaFileBytes, path);
  HardStateFile file(path, std::move(fd), std::move(mapping), durability, stats);

  std::string problems;
  std::vector<std::pair<int, std::string>> damaged;  // slot, where and why
  int newest = -1;
  MetaSlot chosen;
  for (int i = 0; i < 2; ++i) {
    MetaSlot slot;
    const std::byte* at = file.mapping_.data() + slot_offset(i);
    const bool blank = never_written(at);
    const std::string problem = blank ? "never written" : read_slot(at, slot, path, i);
    if (!problem.empty()) {
      const std::string where = "slot " + std::to_string(i) + " at offset " + std::to_string(slot_offset(i));
      problems += "; " + where + ": " + problem;
      if (!blank) damaged.emplace_back(i, where + " (" + problem + ")");
      continue;
    }
    if (newest < 0 || slot.sequence > chosen.sequence) {
      newest = i;
      chosen = slot;
    }
  }
  if (newest < 0) {
    throw damage("hard state file " + path.string() + " holds no valid hard state" + problems);
  }
  for (const auto& [slot, description] : damaged) {
    file.damaged_slots_.push_back(slot);
    report.notes.push_back(
        "meta: " + description + " zeroed; the hard state (term " + std::to_string(chosen.term) + ", vote " +
        std::to_string(chosen.vote) + ", commit " + std::to_string(chosen.commit) + ") comes from slot " +
        std::to_string(newest) + ", and if the damaged slot was the newer one, what was saved last is lost");
  }
  report.hard_state_slots_skipped += damaged.size();
  file.sequence_ = chosen.sequence;
  file.relied_on_slot_ = newest;
  file.newest_ = HardState{chosen.term, chosen.vote, chosen.commit, chosen.lost};
  file.watermark_ = chosen.watermark;
  file.newest_version_ = chosen.version;
  file.relied_on_ = file.newest_;
  return file;
}

void HardStateFile::repair_damaged_slots(uint64_t lost_mark) {
  if (lost_mark != 0 && !damaged_slots_.empty()) {
    // Only the slot not relied on can be damaged (the other is the newest valid one): write() goes there.
    HardState marked = newest_;
    marked.lost = lost_mark;
    write(marked, watermark_, durability_ != Durability::none);
    damaged_slots_.clear();
    return;
  }
  for (const int slot : damaged_slots_) {
    std::memset(mapping_.data() + slot_offset(slot), 0, sizeof(MetaSlot));
    if (durability_ != Durability::none) {
      mapping_.flush(slot_offset(slot), slot_offset(slot) + sizeof(MetaSlot), path_);
      ++stats_->flushes;
    }
  }
  damaged_slots_.clear();
}

void HardStateFile::write(const HardState& state, uint64_t watermark, bool flush) {
  const int target = 1 - relied_on_slot_;
  const MetaSlot slot = make_slot(state, watermark, ++sequence_);
  std::memcpy(mapping_.data() + slot_offset(target), &slot, sizeof slot);
  newest_ = state;
  watermark_ = watermark;
  newest_version_ = format::kMetaVersion;
  if (durability_ == Durability::none) {
    relied_on_slot_ = target;
    relied_on_ = state;
  } else if (flush) {
    mapping_.flush(slot_offset(target), slot_offset(target) + sizeof slot, path_);
    ++stats_->flushes;
    relied_on_slot_ = target;
    relied_on_ = state;
  }
}

}  // namespace shmraft::storage
