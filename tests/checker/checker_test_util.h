#pragma once
// Terse constructors for hand-written histories.
#include <optional>
#include <string>

#include "launcher/checker/history.h"

namespace shmraft::checker::test {

inline Operation put(std::string key, std::string value, uint64_t call, std::optional<uint64_t> ret,
                     uint64_t client = 1) {
  return {client, OpKind::put, std::move(key), std::move(value), "", "ok", call, ret};
}
inline Operation get(std::string key, std::string output, uint64_t call, std::optional<uint64_t> ret,
                     uint64_t client = 1) {
  return {client, OpKind::get, std::move(key), "", "", std::move(output), call, ret};
}
inline Operation append(std::string key, std::string value, uint64_t call, std::optional<uint64_t> ret,
                        uint64_t client = 1) {
  return {client, OpKind::append, std::move(key), std::move(value), "", "ok", call, ret};
}
inline Operation cas(std::string key, std::string expect, std::string value, std::string output,
                     uint64_t call, std::optional<uint64_t> ret, uint64_t client = 1) {
  return {client, OpKind::cas, std::move(key), std::move(value), std::move(expect), std::move(output),
          call,   ret};
}
inline Operation del(std::string key, uint64_t call, std::optional<uint64_t> ret, uint64_t client = 1) {
  return {client, OpKind::del, std::move(key), "", "", "ok", call, ret};
}
// An operation whose outcome the client never learned.
inline Operation unknown(Operation op) {
  op.ret.reset();
  op.output.clear();
  return op;
}

}  // namespace shmraft::checker::test
