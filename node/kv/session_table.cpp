#include "node/kv/session_table.h"

#include <stdexcept>

namespace shmraft::kv {

SessionTable::SessionTable(std::size_t capacity) : capacity_(capacity) {
  if (capacity == 0) throw std::invalid_argument("SessionTable: capacity must be at least 1");
}

SessionTable::SessionTable(const SessionTable& other) : capacity_(other.capacity_) {
  assign(other.records());
}

SessionTable& SessionTable::operator=(const SessionTable& other) {
  if (this != &other) {
    capacity_ = other.capacity_;
    assign(other.records());
  }
  return *this;
}

SessionTable::Verdict SessionTable::check(uint64_t client_id, uint64_t sequence, uint64_t index,
                                          ResultCode& cached) {
  const auto it = sessions_.find(client_id);
  if (it == sessions_.end()) return sequence == 1 ? Verdict::apply : Verdict::expired;
  Entry& entry = it->second;
  if (sequence > entry.record.last_sequence) return Verdict::apply;
  if (sequence < entry.record.last_sequence) return Verdict::stale;
  // A retry proves the client is alive: keep its session from expiring before it sees the reply.
  touch(entry, index);
  cached = entry.record.last_code;
  return Verdict::duplicate;
}

void SessionTable::record(uint64_t client_id, uint64_t sequence, uint64_t index, ResultCode code) {
  auto [it, inserted] = sessions_.try_emplace(client_id);
  Entry& entry = it->second;
  if (inserted) {
    entry.record.client_id = client_id;
    entry.lru_position = lru_.insert(lru_.end(), client_id);
  }
  entry.record.last_sequence = sequence;
  entry.record.last_code = code;
  touch(entry, index);
  if (inserted) evict_over_capacity();
}

void SessionTable::touch(Entry& entry, uint64_t index) {
  entry.record.last_index = index;
  lru_.splice(lru_.end(), lru_, entry.lru_position);  // relinks the node: no allocation
}

void SessionTable::evict_over_capacity() {
  while (sessions_.size() > capacity_) {
    sessions_.erase(lru_.front());
    lru_.pop_front();
  }
}

std::vector<SessionRecord> SessionTable::records() const {
  std::vector<SessionRecord> out;
  out.reserve(sessions_.size());
  for (uint64_t client_id : lru_) out.push_back(sessions_.at(client_id).record);
  return out;
}

void SessionTable::assign(const std::vector<SessionRecord>& records) {
  sessions_.clear();
  lru_.clear();
  for (const SessionRecord& record : records) {
    Entry& entry = sessions_[record.client_id];
    entry.record = record;
    entry.lru_position = lru_.insert(lru_.end(), record.client_id);
  }
  evict_over_capacity();
}

}  // namespace shmraft::kv
