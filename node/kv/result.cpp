#include "node/kv/result.h"

#include <stdexcept>
#include <string>

#include "node/kv/command.h"
#include "node/kv/wire.h"

namespace shmraft::kv {

std::string_view to_string(ResultCode code) noexcept {
  switch (code) {
    case ResultCode::ok:
      return "ok";
    case ResultCode::value:
      return "value";
    case ResultCode::cas_failed:
      return "cas failed";
    case ResultCode::malformed:
      return "malformed command";
    case ResultCode::stale_sequence:
      return "stale sequence";
    case ResultCode::session_expired:
      return "session expired";
    case ResultCode::absent:
      return "absent";
    case ResultCode::too_large:
      return "value would exceed the append's bound";
  }
  return "unknown result";
}

std::size_t encoded_size(const Result& result) noexcept {
  return 1 + (result.code == ResultCode::value ? wire::string_size(result.value) : 0);
}

std::size_t encode_result(const Result& result, std::span<std::byte> out) {
  const std::size_t size = encoded_size(result);
  if (out.size() < size) {
    throw std::length_error("encode_result: needs " + std::to_string(size) + " bytes, buffer has " +
                            std::to_string(out.size()));
  }
  wire::Writer w(out.data());
  w.byte(static_cast<uint8_t>(result.code));
  if (result.code == ResultCode::value) w.string(result.value);
  return size;
}

bool decode_result(std::span<const std::byte> bytes, Result& out) noexcept {
  wire::Reader r(bytes);
  const uint8_t code = r.byte();
  if (!r.ok() || !is_result_code(code)) return false;
  out.code = static_cast<ResultCode>(code);
  out.value = out.code == ResultCode::value ? r.string(kMaxValueSize) : std::string_view{};
  out.duplicate = false;
  return r.ok() && r.remaining() == 0;
}

}  // namespace shmraft::kv
