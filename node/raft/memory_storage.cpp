#include "node/raft/memory_storage.h"

#include <stdexcept>
#include <string>

namespace shmraft::raft {

std::optional<Term> MemoryStorage::term(Index i) const {
  if (i == offset_) return offset_term_;
  if (i < offset_ || i > last_index()) return std::nullopt;
  return entries_[i - offset_ - 1].term;
}

void MemoryStorage::entries(Index lo, Index hi, std::size_t max_bytes, std::vector<Entry>& out) const {
  if (lo < first_index() || hi > last_index() + 1 || lo >= hi) {
    throw std::out_of_range("MemoryStorage::entries: [" + std::to_string(lo) + ", " + std::to_string(hi) +
                            ") is outside [" + std::to_string(first_index()) + ", " +
                            std::to_string(last_index() + 1) + ")");
  }
  std::size_t total = 0;
  for (Index i = lo; i < hi; ++i) {
    const Stored& s = entries_[i - offset_ - 1];
    if (i != lo && total + s.size > max_bytes) break;
    total += s.size;
    out.push_back({s.term, i, s.type, Bytes(bytes_.data() + s.offset, s.size)});
  }
}

void MemoryStorage::append(std::span<const Entry> entries) {
  if (entries.empty()) return;
  const Index first = entries.front().index;
  if (first < first_index() || first > last_index() + 1) {
    throw std::invalid_argument("MemoryStorage::append: first index " + std::to_string(first) +
                                " is outside [" + std::to_string(first_index()) + ", " +
                                std::to_string(last_index() + 1) + "]");
  }
  for (std::size_t k = 1; k < entries.size(); ++k) {
    if (entries[k].index != first + k)
      throw std::invalid_argument("MemoryStorage::append: entries are not consecutive");
  }
  const std::size_t keep = first - offset_ - 1;
  if (keep < entries_.size()) {
    bytes_.resize(entries_[keep].offset);
    entries_.resize(keep);
  }
  for (const Entry& e : entries) {
    entries_.push_back({e.term, e.type, bytes_.size(), e.data.size()});
    bytes_.insert(bytes_.end(), e.data.begin(), e.data.end());
  }
}

void MemoryStorage::apply_snapshot(const Snapshot& snapshot) {
  offset_ = snapshot.meta.index;
  offset_term_ = snapshot.meta.term;
  entries_.clear();
  bytes_.clear();
  snapshot_meta_ = snapshot.meta;
  snapshot_data_.assign(snapshot.data.begin(), snapshot.data.end());
}

void MemoryStorage::create_snapshot(Index index, Bytes data, const ConfState& conf_state) {
  const std::optional<Term> t = term(index);
  if (!t || index < snapshot_meta_.index) {
    throw std::invalid_argument("MemoryStorage::create_snapshot: index " + std::to_string(index) +
                                " is not in the log or older than the current snapshot");
  }
  snapshot_meta_ = SnapshotMeta(index, *t, conf_state);
  snapshot_data_.assign(data.begin(), data.end());
}

void MemoryStorage::compact(Index index) {
  if (index <= offset_) return;
  if (index > snapshot_meta_.index || index > last_index()) {
    throw std::invalid_argument("MemoryStorage::compact: index " + std::to_string(index) +
                                " is beyond the latest snapshot (" + std::to_string(snapshot_meta_.index) +
                                ") or the log");
  }
  const std::size_t count = index - offset_;
  offset_term_ = entries_[count - 1].term;
  offset_ = index;
  const std::size_t base = count < entries_.size() ? entries_[count].offset : bytes_.size();
  bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(base));
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(count));
  for (Stored& s : entries_) s.offset -= base;
}

void MemoryStorage::persist(const Ready& ready) {
  if (ready.snapshot) apply_snapshot(*ready.snapshot);
  append(ready.entries);
  if (ready.hard_state) set_hard_state(*ready.hard_state);
}

}  // namespace shmraft::raft
