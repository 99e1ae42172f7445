#include "node/kv/state_machine.h"

#include <algorithm>
#include <string>

#include "node/kv/value_pool.h"

namespace shmraft::kv {

StateMachine::StateMachine(Config config) : config_(config), sessions_(config.max_sessions) {}

void StateMachine::advance(uint64_t index) {
  if (index <= applied_index_) {
    throw std::logic_error("kv::StateMachine: entry " + std::to_string(index) + " applied after entry " +
                           std::to_string(applied_index_));
  }
  applied_index_ = index;
}

void StateMachine::skip(uint64_t index) {
  advance(index);
}

Result StateMachine::apply(uint64_t index, std::span<const std::byte> bytes) {
  Command command;
  if (decode_command(bytes, command) != DecodeError::none) {
    advance(index);
    return Result{ResultCode::malformed, {}, false};
  }
  return apply(index, command);
}

void StateMachine::prefetch(std::span<const std::byte> bytes) const noexcept {
  Command command;
  if (decode_command(bytes, command) == DecodeError::none) map_.prefetch(command.key);
}

Result StateMachine::apply(uint64_t index, const Command& command) {
  advance(index);
  if (command.client_id == kNoSession) return execute(command);
  ResultCode cached = ResultCode::ok;
  switch (sessions_.check(command.client_id, command.sequence, index, cached)) {
    case SessionTable::Verdict::apply:
      break;
    case SessionTable::Verdict::duplicate:
      // A read changes nothing, so reading again now is as good as the first answer: both points lie
      // between the client's call and its reply. It also keeps read values out of the session table.
      if (command.op == Op::get) return get_result(get(command.key), true);
      return Result{cached, {}, true};
    case SessionTable::Verdict::stale:
      return Result{ResultCode::stale_sequence, {}, false};
    case SessionTable::Verdict::expired:
      return Result{ResultCode::session_expired, {}, false};
  }
  const Result result = execute(command);
  sessions_.record(command.client_id, command.sequence, index, result.code);
  return result;
}

Result StateMachine::execute(const Command& c) {
  switch (c.op) {
    case Op::get:
      return get_result(get(c.key));
    case Op::put:
      set(c.key, c.value);
      break;
    case Op::append: {
      const auto it = map_.find(c.key);
      const std::size_t held = it == map_.end() ? 0 : it->second.size();
      if (c.bound != 0 && held + c.value.size() > c.bound) return Result{ResultCode::too_large, {}, false};
      if (it == map_.end()) {
        map_.emplace(std::string(c.key), Value(c.value));
      } else {
        it->second.append(c.value);
      }
      break;
    }
    case Op::del: {
      const auto it = map_.find(c.key);
      if (it != map_.end()) map_.erase(it);
      break;
    }
    case Op::cas:
      if (current(c.key) != c.expected) return Result{ResultCode::cas_failed, {}, false};
      set(c.key, c.value);
      break;
  }
  return Result{ResultCode::ok, {}, false};
}

std::string_view StateMachine::current(std::string_view key) const {
  const auto it = map_.find(key);
  return it == map_.end() ? std::string_view{} : it->second.view();
}

void StateMachine::set(std::string_view key, std::string_view value) {
  const auto it = map_.find(key);
  if (it == map_.end()) {
    map_.emplace(std::string(key), Value(value));
  } else {
    it->second.assign(value);  // reuses the old value's capacity when it fits
  }
}

ValueMemory StateMachine::value_memory() const {
  std::vector<std::span<char>> ranges = ValuePool::shared().populated();
  if (slab_) ranges.push_back(slab_->populated());
  return ValueMemory(std::move(ranges), slab_);
}

std::optional<std::string_view> StateMachine::get(std::string_view key) const {
  const auto it = map_.find(key);
  if (it == map_.end()) return std::nullopt;
  return it->second.view();
}

std::vector<std::pair<std::string, std::string>> StateMachine::dump() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(map_.size());
  for (const auto& [key, value] : map_) out.emplace_back(key, value.view());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace shmraft::kv
