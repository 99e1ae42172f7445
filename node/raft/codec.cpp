#include "node/raft/codec.h"

#include <bit>
#include <cstring>
#include <limits>
#include <type_traits>

namespace shmraft::raft {
namespace {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big);

template <class T>
T to_little(T v) noexcept {
  if constexpr (std::endian::native == std::endian::big) {
    if constexpr (sizeof(T) == 8) return __builtin_bswap64(v);
    if constexpr (sizeof(T) == 4) return __builtin_bswap32(v);
    if constexpr (sizeof(T) == 2) return __builtin_bswap16(v);
  }
  return v;
}

constexpr std::size_t kMaxSpan = std::numeric_limits<std::uint32_t>::max();
// Smallest encoding of one AppendEntries entry: u64 term, u8 type, u32 length.
constexpr std::size_t kMinEntryBytes = 8 + 1 + 4;

// Three passes share one description of each message (fields() below): counting, writing, reading.
class Sizer {
 public:
  void u8(std::uint8_t) { n += 1; }
  void u32(std::uint32_t) { n += 4; }
  void u64(std::uint64_t) { n += 8; }
  void flag(bool) { n += 1; }
  template <class E>
  void enumeration(E, E) {
    n += 1;
  }
  void bytes(Bytes b) { n += 4 + b.size(); }
  void conf_state(const ConfState&) { n += 28; }
  void entries(std::span<const Entry> es, Index) {
    n += 4;
    for (const Entry& e : es) n += kMinEntryBytes + e.data.size();
  }
  std::size_t n = 0;
};

class Writer {
 public:
  explicit Writer(std::span<std::byte> out) : out_(out) {}
  void u8(std::uint8_t v) { put(v); }
  void u32(std::uint32_t v) { put(to_little(v)); }
  void u64(std::uint64_t v) { put(to_little(v)); }
  void flag(bool v) { u8(v ? 1 : 0); }
  template <class E>
  void enumeration(E v, E) {
    u8(static_cast<std::uint8_t>(v));
  }
  void bytes(Bytes b) {
    u32(static_cast<std::uint32_t>(b.size()));
    raw(b);
  }
  void conf_state(const ConfState& c) {
    u64(c.voters.bits());
    u64(c.learners.bits());
    u32(c.repairing);
    u64(c.repair_incarnation);
  }
  void entries(std::span<const Entry> es, Index) {
    u32(static_cast<std::uint32_t>(es.size()));
    for (const Entry& e : es) {
      u64(e.term);
      enumeration(e.type, e.type);
      bytes(e.data);
    }
  }
  std::size_t written() const { return pos_; }

 private:
  template <class T>
  void put(T v) {
    std::memcpy(out_.data() + pos_, &v, sizeof v);
    pos_ += sizeof v;
  }
  void raw(Bytes b) {
    if (!b.empty()) std::memcpy(out_.data() + pos_, b.data(), b.size());
    pos_ += b.size();
  }
  std::span<std::byte> out_;
  std::size_t pos_ = 0;
};

class Reader {
 public:
  Reader(std::span<const std::byte> in, DecodeScratch* scratch) : in_(in), scratch_(scratch) {}
  void u8(std::uint8_t& v) { get(v); }
  void u32(std::uint32_t& v) {
    if (get(v)) v = to_little(v);
  }
  void u64(std::uint64_t& v) {
    if (get(v)) v = to_little(v);
  }
  void flag(bool& v) {
    std::uint8_t b = 0;
    u8(b);
    if (b > 1) fail(CodecError::kBadValue);
    v = b == 1;
  }
  template <class E>
  void enumeration(E& v, E max) {
    std::uint8_t b = 0;
    u8(b);
    if (b > static_cast<std::uint8_t>(max)) fail(CodecError::kBadValue);
    v = static_cast<E>(b);
  }
  void bytes(Bytes& b) {
    std::uint32_t size = 0;
    u32(size);
    if (error != CodecError::kOk) return;
    if (size > in_.size() - pos_) return fail(CodecError::kTruncated);
    b = in_.subspan(pos_, size);
    pos_ += size;
  }
  void conf_state(ConfState& c) {
    std::uint64_t voters = 0;
    std::uint64_t learners = 0;
    u64(voters);
    u64(learners);
    u32(c.repairing);
    u64(c.repair_incarnation);
    c.voters = NodeSet::from_bits(voters);
    c.learners = NodeSet::from_bits(learners);
    // Id 0 is no node, and no node is both a voter and a learner; a repair names a node and a start.
    if (!c.voters.valid() || !c.learners.valid() || (voters & learners) != 0 || c.repairing > kMaxNodeId ||
        (c.repairing == 0) != (c.repair_incarnation == 0))
      fail(CodecError::kBadValue);
  }
  void entries(std::span<const Entry>& es, Index prev) {
    std::uint32_t count = 0;
    u32(count);
    if (error != CodecError::kOk) return;
    // Refuse counts the remaining bytes cannot hold before reserving anything for them.
    if (count > (in_.size() - pos_) / kMinEntryBytes) return fail(CodecError::kTruncated);
    if (prev > std::numeric_limits<Index>::max() - count) return fail(CodecError::kBadValue);
    std::vector<Entry>& out = scratch_->entries;
    out.clear();
    for (std::uint32_t k = 0; k < count && error == CodecError::kOk; ++k) {
      Entry e;
      e.index = prev + 1 + k;
      u64(e.term);
      enumeration(e.type, kLastEntryType);
      bytes(e.data);
      out.push_back(e);
    }
    es = out;
  }
  bool at_end() const { return pos_ == in_.size(); }
  CodecError error = CodecError::kOk;

 private:
  template <class T>
  bool get(T& v) {
    if (error != CodecError::kOk) return false;
    if (in_.size() - pos_ < sizeof v) {
      fail(CodecError::kTruncated);
      return false;
    }
    std::memcpy(&v, in_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return true;
  }
  void fail(CodecError e) {
    if (error == CodecError::kOk) error = e;
  }
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
  DecodeScratch* scratch_;
};

template <class IO, class M>
void fields(IO& io, M& m) {
  using T = std::remove_const_t<M>;
  io.u32(m.from);
  io.u32(m.to);
  io.u64(m.term);
  if constexpr (std::is_same_v<T, VoteRequest>) {
    io.u64(m.last_log_index);
    io.u64(m.last_log_term);
    io.flag(m.pre_vote);
    io.flag(m.leader_transfer);
  } else if constexpr (std::is_same_v<T, VoteResponse>) {
    io.flag(m.pre_vote);
    io.flag(m.granted);
    io.u64(m.last_log_index);
    io.u64(m.last_log_term);
  } else if constexpr (std::is_same_v<T, AppendEntries>) {
    io.u64(m.prev_log_index);
    io.u64(m.prev_log_term);
    io.u64(m.leader_commit);
    io.entries(m.entries, m.prev_log_index);
  } else if constexpr (std::is_same_v<T, AppendResponse>) {
    io.flag(m.success);
    io.u64(m.match_index);
    io.u64(m.reject_index);
    io.u64(m.conflict_index);
    io.u64(m.conflict_term);
    io.u64(m.incarnation);
    io.u64(m.lost);
  } else if constexpr (std::is_same_v<T, Heartbeat>) {
    io.u64(m.commit);
    io.u64(m.context);
  } else if constexpr (std::is_same_v<T, HeartbeatResponse>) {
    io.u64(m.context);
    io.u64(m.incarnation);
    io.u64(m.lost);
  } else if constexpr (std::is_same_v<T, InstallSnapshot>) {
    io.u64(m.meta.index);
    io.u64(m.meta.term);
    io.conf_state(m.meta.conf_state);
    io.bytes(m.data);
  } else if constexpr (std::is_same_v<T, InstallSnapshotResponse>) {
    io.u64(m.match_index);
    io.u64(m.incarnation);
    io.u64(m.lost);
  } else if constexpr (std::is_same_v<T, TimeoutNow>) {
    // header only
  } else {
    static_assert(sizeof(T) == 0, "message type without a wire description");
  }
}

// Spans longer than a u32 length can describe cannot be encoded.
template <class M>
bool spans_fit(const M& m) {
  using T = std::remove_const_t<M>;
  if constexpr (std::is_same_v<T, AppendEntries>) {
    if (m.entries.size() > kMaxSpan) return false;
    for (const Entry& e : m.entries)
      if (e.data.size() > kMaxSpan) return false;
  } else if constexpr (std::is_same_v<T, InstallSnapshot>) {
    return m.data.size() <= kMaxSpan;
  }
  return true;
}

template <class Variant>
std::size_t size_of(const Variant& v) noexcept {
  return std::visit(
      [](const auto& m) {
        Sizer s;
        fields(s, m);
        return 2 + s.n;
      },
      v);
}

template <class Variant>
Encoded encode_variant(const Variant& v, std::span<std::byte> out) noexcept {
  const bool fits = std::visit([](const auto& m) { return spans_fit(m); }, v);
  if (!fits) return {CodecError::kBadValue, 0};
  const std::size_t size = size_of(v);
  if (out.size() < size) return {CodecError::kBufferTooSmall, 0};
  Writer w(out);
  w.u8(kWireVersion);
  w.u8(static_cast<std::uint8_t>(kind_of(v)));
  std::visit([&w](const auto& m) { fields(w, m); }, v);
  return {CodecError::kOk, w.written()};
}

template <class M, class Variant>
Decoded<Variant> read_as(std::span<const std::byte> in, DecodeScratch* scratch) {
  Reader r(in.subspan(2), scratch);
  M m{};
  fields(r, m);
  if (r.error != CodecError::kOk) return {r.error, {}};
  if (!r.at_end()) return {CodecError::kTrailingBytes, {}};
  return {CodecError::kOk, Variant{std::move(m)}};
}

}  // namespace

const char* to_string(CodecError error) noexcept {
  switch (error) {
    case CodecError::kOk:
      return "ok";
    case CodecError::kTruncated:
      return "truncated message";
    case CodecError::kBadVersion:
      return "unknown wire version";
    case CodecError::kBadKind:
      return "unknown message kind";
    case CodecError::kBadValue:
      return "field value out of range";
    case CodecError::kTrailingBytes:
      return "trailing bytes after message";
    case CodecError::kBufferTooSmall:
      return "output buffer too small";
  }
  return "?";
}

MessageKind kind_of(const Message& m) noexcept {
  return static_cast<MessageKind>(m.index() + static_cast<std::size_t>(MessageKind::kVoteRequest));
}

std::size_t encoded_size(const Message& m) noexcept {
  return size_of(m);
}

Encoded encode(const Message& m, std::span<std::byte> out) noexcept {
  return encode_variant(m, out);
}

Decoded<MessageKind> peek_kind(std::span<const std::byte> in) noexcept {
  if (in.size() < 2) return {CodecError::kTruncated, {}};
  if (static_cast<std::uint8_t>(in[0]) != kWireVersion) return {CodecError::kBadVersion, {}};
  const auto kind = static_cast<std::uint8_t>(in[1]);
  if (kind < static_cast<std::uint8_t>(MessageKind::kVoteRequest) ||
      kind > static_cast<std::uint8_t>(MessageKind::kTimeoutNow)) {
    return {CodecError::kBadKind, {}};
  }
  return {CodecError::kOk, static_cast<MessageKind>(kind)};
}

Decoded<Message> decode_message(std::span<const std::byte> in, DecodeScratch& scratch) {
  const Decoded<MessageKind> kind = peek_kind(in);
  if (!kind) return {kind.error, {}};
  switch (kind.value) {
    case MessageKind::kVoteRequest:
      return read_as<VoteRequest, Message>(in, &scratch);
    case MessageKind::kVoteResponse:
      return read_as<VoteResponse, Message>(in, &scratch);
    case MessageKind::kAppendEntries:
      return read_as<AppendEntries, Message>(in, &scratch);
    case MessageKind::kAppendResponse:
      return read_as<AppendResponse, Message>(in, &scratch);
    case MessageKind::kHeartbeat:
      return read_as<Heartbeat, Message>(in, &scratch);
    case MessageKind::kHeartbeatResponse:
      return read_as<HeartbeatResponse, Message>(in, &scratch);
    case MessageKind::kInstallSnapshot:
      return read_as<InstallSnapshot, Message>(in, &scratch);
    case MessageKind::kInstallSnapshotResponse:
      return read_as<InstallSnapshotResponse, Message>(in, &scratch);
    case MessageKind::kTimeoutNow:
      return read_as<TimeoutNow, Message>(in, &scratch);
    default:
      return {CodecError::kBadKind, {}};
  }
}

}  // namespace shmraft::raft
