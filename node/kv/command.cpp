#include "node/kv/command.h"

#include <stdexcept>
#include <string>

#include "node/kv/wire.h"

namespace shmraft::kv {

namespace {
bool has_value(Op op) noexcept {
  return op == Op::put || op == Op::append || op == Op::cas;
}
bool has_bound(const Command& c) noexcept {
  return c.op == Op::append && c.bound != 0;
}
bool valid_op(uint8_t op) noexcept {
  return op >= static_cast<uint8_t>(Op::put) && op <= static_cast<uint8_t>(Op::del);
}
}  // namespace

std::string_view to_string(Op op) noexcept {
  switch (op) {
    case Op::put:
      return "put";
    case Op::get:
      return "get";
    case Op::append:
      return "append";
    case Op::cas:
      return "cas";
    case Op::del:
      return "delete";
  }
  return "unknown op";
}

std::string_view to_string(DecodeError error) noexcept {
  switch (error) {
    case DecodeError::none:
      return "no error";
    case DecodeError::empty:
      return "empty command";
    case DecodeError::bad_op:
      return "unknown op byte";
    case DecodeError::truncated:
      return "truncated command";
    case DecodeError::bad_varint:
      return "malformed varint";
    case DecodeError::too_large:
      return "key or value above the size limit";
    case DecodeError::bad_sequence:
      return "session command with sequence 0";
    case DecodeError::zero_bound:
      return "append with a bound of 0";
    case DecodeError::trailing_bytes:
      return "trailing bytes after the command";
  }
  return "unknown decode error";
}

std::size_t encoded_size(const Command& c) noexcept {
  std::size_t n =
      1 + wire::varint_size(c.client_id) + wire::varint_size(c.sequence) + wire::string_size(c.key);
  if (has_value(c.op)) n += wire::string_size(c.value);
  if (c.op == Op::cas) n += wire::string_size(c.expected);
  if (has_bound(c)) n += wire::varint_size(c.bound);
  return n;
}

std::size_t encode_command(const Command& c, std::span<std::byte> out) {
  if (!valid_op(static_cast<uint8_t>(c.op))) throw std::invalid_argument("encode_command: unknown op");
  if (c.key.size() > kMaxKeySize) {
    throw std::invalid_argument("encode_command: key of " + std::to_string(c.key.size()) + " bytes exceeds " +
                                std::to_string(kMaxKeySize));
  }
  if (c.value.size() > kMaxValueSize || c.expected.size() > kMaxValueSize) {
    throw std::invalid_argument("encode_command: value exceeds " + std::to_string(kMaxValueSize) + " bytes");
  }
  if (c.client_id != kNoSession && c.sequence == 0) {
    throw std::invalid_argument("encode_command: session commands are numbered from 1");
  }
  const std::size_t size = encoded_size(c);
  if (out.size() < size) {
    throw std::length_error("encode_command: needs " + std::to_string(size) + " bytes, buffer has " +
                            std::to_string(out.size()));
  }
  wire::Writer w(out.data());
  w.byte(static_cast<uint8_t>(c.op));
  w.varint(c.client_id);
  w.varint(c.sequence);
  w.string(c.key);
  if (has_value(c.op)) w.string(c.value);
  if (c.op == Op::cas) w.string(c.expected);
  if (has_bound(c)) w.varint(c.bound);
  return size;
}

DecodeError decode_command(std::span<const std::byte> bytes, Command& out) noexcept {
  if (bytes.empty()) return DecodeError::empty;
  wire::Reader r(bytes);
  const uint8_t op = r.byte();
  if (!valid_op(op)) return DecodeError::bad_op;
  out.op = static_cast<Op>(op);
  out.client_id = r.varint();
  out.sequence = r.varint();
  out.key = r.string(kMaxKeySize);
  out.value = has_value(out.op) ? r.string(kMaxValueSize) : std::string_view{};
  out.expected = out.op == Op::cas ? r.string(kMaxValueSize) : std::string_view{};
  const bool bounded = out.op == Op::append && r.ok() && r.remaining() != 0;
  out.bound = bounded ? r.varint() : 0;
  switch (r.status()) {
    case wire::ReadStatus::ok:
      break;
    case wire::ReadStatus::truncated:
      return DecodeError::truncated;
    case wire::ReadStatus::bad_varint:
      return DecodeError::bad_varint;
    case wire::ReadStatus::too_large:
      return DecodeError::too_large;
  }
  if (r.remaining() != 0) return DecodeError::trailing_bytes;
  if (bounded && out.bound == 0) return DecodeError::zero_bound;
  if (out.client_id != kNoSession && out.sequence == 0) return DecodeError::bad_sequence;
  return DecodeError::none;
}

}  // namespace shmraft::kv
