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

MetaSlot make_slot(const HardState& state, uint64_t sequence) {
  MetaSlot slot;
  slot.sequence = sequence;
  slot.term = state.term;
  slot.vote = state.vote;
  slot.commit = state.commit;
  slot.lost = state.lost;
  slot.crc = format::meta_slot_crc(slot);
  return slot;
}

// All zero: a slot no write has reached yet (the second one of a new file), not damage.
bool never_written(const MetaSlot& slot) {
  static constexpr std::byte kZero[sizeof(MetaSlot)] = {};
  return std::memcmp(&slot, kZero, sizeof slot) == 0;
}

// A version-1 slot in the current layout: a node that is not lost.
MetaSlot upgraded(const format::MetaSlotV1& v1) {
  MetaSlot slot;
  slot.version = v1.version;
  slot.sequence = v1.sequence;
  slot.term = v1.term;
  slot.vote = v1.vote;
  slot.commit = v1.commit;
  return slot;
}

// Reads the slot at `at` into `slot` (a version-1 one upgraded); returns why it cannot be used, or empty
// if it can. A newer format version is an error, not a bad slot.
std::string read_slot(const std::byte* at, MetaSlot& slot, const fs::path& path, int index) {
  std::memcpy(&slot, at, sizeof slot);
  if (slot.magic != format::kMetaMagic) return "bad magic number";
  if (slot.version > format::kMetaVersion) {
    throw StorageError("hard state file " + path.string() + " slot " + std::to_string(index) +
                       " has format version " + std::to_string(slot.version) +
                       ", newer than this build understands (" + std::to_string(format::kMetaVersion) + ")");
  }
  if (slot.version == 1) {
    format::MetaSlotV1 v1;
    std::memcpy(&v1, at, sizeof v1);
    if (v1.crc != format::meta_slot_crc(v1)) return "CRC mismatch";
    slot = upgraded(v1);
  } else if (slot.crc != format::meta_slot_crc(slot)) {
    return "CRC mismatch";
  }
  if (slot.version == 0 || slot.sequence == 0) return "version or sequence number 0";
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
  const MetaSlot first = make_slot(HardState{}, 1);
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
    std::memcpy(&slot, at, sizeof slot);
    const std::string problem = never_written(slot) ? "never written" : read_slot(at, slot, path, i);
    if (!problem.empty()) {
      const std::string where = "slot " + std::to_string(i) + " at offset " + std::to_string(slot_offset(i));
      problems += "; " + where + ": " + problem;
      if (!never_written(slot)) damaged.emplace_back(i, where + " (" + problem + ")");
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
  file.relied_on_ = file.newest_;
  return file;
}

void HardStateFile::repair_damaged_slots(uint64_t lost_mark) {
  if (lost_mark != 0 && !damaged_slots_.empty()) {
    // Only the slot not relied on can be damaged (the other is the newest valid one): write() goes there.
    HardState marked = newest_;
    marked.lost = lost_mark;
    write(marked, durability_ != Durability::none);
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

void HardStateFile::write(const HardState& state, bool flush) {
  const int target = 1 - relied_on_slot_;
  const MetaSlot slot = make_slot(state, ++sequence_);
  std::memcpy(mapping_.data() + slot_offset(target), &slot, sizeof slot);
  newest_ = state;
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
