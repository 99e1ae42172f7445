// StateMachine::snapshot / restore. Layout (integers LEB128 unless noted):
//   "SRKV" | version | applied index | key count | (key, value)* in key order
//   | session count | (client id, last sequence, last index, u8 last code)* in ascending last index
//   | u32 LE CRC32C of everything before it
// Sorting makes the bytes a function of the state alone, not of hash-table layout or insertion order.
#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "ipc/crc32c.h"
#include "node/kv/state_machine.h"
#include "node/kv/wire.h"

namespace shmraft::kv {

namespace {
constexpr std::string_view kMagic = "SRKV";
constexpr uint64_t kVersion = 1;
constexpr std::size_t kCrcSize = 4;
// A key/value pair takes at least two length bytes, a session at least four bytes: bounds for counts read
// from untrusted bytes, before reserving memory for them.
constexpr std::size_t kMinPairSize = 2;
constexpr std::size_t kMinSessionSize = 4;

[[noreturn]] void corrupt(const std::string& what) {
  throw SnapshotError("kv snapshot: " + what);
}

// Serialises into a buffer of kSnapshotPieceBytes that goes to the sink each time it fills, keeping the
// CRC32C of every byte handed over. A large value skips the buffer: its own bytes go to the sink, so the
// child reads them once for the CRC and once for write(), not a third time for a copy.
class PieceWriter {
 public:
  explicit PieceWriter(const StateMachine::SnapshotSink& sink)
      : sink_(sink), buffer_(StateMachine::kSnapshotPieceBytes) {}

  void byte(uint8_t b) {
    make_room(1);
    buffer_[used_++] = std::byte{b};
  }
  void varint(uint64_t v) {
    make_room(kMaxVarintBytes);
    wire::Writer w(buffer_.data() + used_);
    w.varint(v);
    used_ = static_cast<std::size_t>(w.position() - buffer_.data());
  }
  void raw(std::string_view s) {
    if (s.size() >= kInPlaceBytes) {
      flush();
      for (std::size_t n; !s.empty(); s.remove_prefix(n)) {
        n = std::min(s.size(), buffer_.size());
        hand_over(std::as_bytes(std::span(s.data(), n)));
      }
      return;
    }
    while (!s.empty()) {
      make_room(1);
      const std::size_t n = std::min(s.size(), buffer_.size() - used_);
      std::memcpy(buffer_.data() + used_, s.data(), n);
      used_ += n;
      s.remove_prefix(n);
    }
  }
  void string(std::string_view s) {
    varint(s.size());
    raw(s);
  }
  // Hands over what is buffered, then the CRC of everything before it.
  void finish() {
    flush();
    wire::Writer(buffer_.data()).u32(crc_);
    hand_over(std::span(buffer_).first(kCrcSize));
  }

 private:
  static constexpr std::size_t kMaxVarintBytes = 10;
  // Below a full piece a value is copied: measured, a write() per 8 KiB value (262 K syscalls per GiB)
  // cost far more than the copy it saved (child 4.4 s against 2.6 s).
  static constexpr std::size_t kInPlaceBytes = StateMachine::kSnapshotPieceBytes;

  void make_room(std::size_t bytes) {
    if (buffer_.size() - used_ < bytes) flush();
  }
  void flush() {
    if (used_ == 0) return;
    hand_over(std::span(buffer_).first(used_));
    used_ = 0;
  }
  void hand_over(std::span<const std::byte> piece) {
    crc_ = ipc::crc32c(piece.data(), piece.size(), crc_);
    sink_(piece, crc_);
  }

  const StateMachine::SnapshotSink& sink_;
  std::vector<std::byte> buffer_;
  std::size_t used_ = 0;
  uint32_t crc_ = 0;
};

// A key's first 8 bytes as a big-endian number, zero-padded: keys whose prefixes differ order as their
// prefixes do; equal prefixes need the whole keys compared.
uint64_t key_prefix(std::string_view key) noexcept {
  unsigned char bytes[8] = {};
  std::memcpy(bytes, key.data(), std::min(key.size(), sizeof bytes));
  uint64_t prefix = 0;
  for (const unsigned char b : bytes) prefix = prefix << 8 | b;
  return prefix;
}

}  // namespace

std::size_t StateMachine::snapshot_size() const {
  const std::vector<SessionRecord> sessions = sessions_.records();
  std::size_t size = kMagic.size() + wire::varint_size(kVersion) + wire::varint_size(applied_index_) +
                     wire::varint_size(map_.size()) + wire::varint_size(sessions.size()) + kCrcSize;
  for (const auto& [key, value] : map_) size += wire::string_size(key) + wire::string_size(value.view());
  for (const SessionRecord& s : sessions) {
    size += wire::varint_size(s.client_id) + wire::varint_size(s.last_sequence) +
            wire::varint_size(s.last_index) + 1;
  }
  return size;
}

void StateMachine::snapshot(const SnapshotSink& write) const {
  // Sorted by the keys' first 8 bytes held beside each pointer, so that most comparisons read no table
  // slot: in a forked child every slot read is also a first touch of its page.
  struct Sorted {
    uint64_t prefix;  // big-endian, zero-padded: orders as the bytes do
    const Map::value_type* pair;
  };
  std::vector<Sorted> pairs;
  pairs.reserve(map_.size());
  for (const auto& pair : map_) pairs.push_back({key_prefix(pair.first), &pair});
  std::sort(pairs.begin(), pairs.end(), [](const Sorted& a, const Sorted& b) {
    return a.prefix != b.prefix ? a.prefix < b.prefix : a.pair->first < b.pair->first;
  });

  PieceWriter w(write);
  w.raw(kMagic);
  w.varint(kVersion);
  w.varint(applied_index_);
  w.varint(pairs.size());
  for (const Sorted& sorted : pairs) {
    w.string(sorted.pair->first);
    w.string(sorted.pair->second.view());
  }
  const std::vector<SessionRecord> sessions = sessions_.records();
  w.varint(sessions.size());
  for (const SessionRecord& s : sessions) {
    w.varint(s.client_id);
    w.varint(s.last_sequence);
    w.varint(s.last_index);
    w.byte(static_cast<uint8_t>(s.last_code));
  }
  w.finish();
}

std::vector<std::byte> StateMachine::snapshot() const {
  std::vector<std::byte> out;
  out.reserve(snapshot_size());
  snapshot([&out](std::span<const std::byte> piece, uint32_t) {
    out.insert(out.end(), piece.begin(), piece.end());
  });
  return out;
}

void StateMachine::restore(std::span<const std::byte> bytes) {
  if (bytes.size() < kMagic.size() + kCrcSize) corrupt("only " + std::to_string(bytes.size()) + " bytes");
  if (std::string_view(reinterpret_cast<const char*>(bytes.data()), kMagic.size()) != kMagic) {
    corrupt("bad magic (not a KV snapshot)");
  }
  const auto body = bytes.first(bytes.size() - kCrcSize);
  wire::Reader crc_reader(bytes.last(kCrcSize));
  if (crc_reader.u32() != ipc::crc32c(body.data(), body.size())) corrupt("checksum mismatch");

  wire::Reader r(body.subspan(kMagic.size()));
  const auto check = [&r](const char* field) {
    if (!r.ok()) corrupt(std::string("truncated or malformed ") + field);
  };
  const uint64_t version = r.varint();
  check("version");
  if (version != kVersion)
    corrupt("version " + std::to_string(version) + ", expected " + std::to_string(kVersion));
  const uint64_t applied_index = r.varint();
  check("applied index");

  const uint64_t key_count = r.varint();
  check("key count");
  if (key_count > r.remaining() / kMinPairSize)
    corrupt("key count " + std::to_string(key_count) + " too large");
  auto slab = std::make_shared<ValueSlab>(bytes.size());  // bounds the values; before map, which it outlives
  Map map;
  map.reserve(key_count);
  std::string_view previous_key;
  for (uint64_t i = 0; i < key_count; ++i) {
    const std::string_view key = r.string(kMaxKeySize);
    const std::string_view value = r.string(SIZE_MAX);
    check("key/value pair");
    if (i > 0 && key <= previous_key) corrupt("keys out of order at pair " + std::to_string(i));
    map.emplace(std::string(key), Value(value, *slab));
    previous_key = key;
  }

  const uint64_t session_count = r.varint();
  check("session count");
  if (session_count > r.remaining() / kMinSessionSize) {
    corrupt("session count " + std::to_string(session_count) + " too large");
  }
  std::vector<SessionRecord> sessions(session_count);
  std::unordered_set<uint64_t> clients;
  for (uint64_t i = 0; i < session_count; ++i) {
    SessionRecord& s = sessions[i];
    s.client_id = r.varint();
    s.last_sequence = r.varint();
    s.last_index = r.varint();
    const uint8_t code = r.byte();
    check("session");
    if (s.client_id == kNoSession || s.last_sequence == 0)
      corrupt("session " + std::to_string(i) + " is empty");
    if (!is_result_code(code)) corrupt("session " + std::to_string(i) + " has bad code");
    s.last_code = static_cast<ResultCode>(code);
    if (s.last_index > applied_index || (i > 0 && s.last_index <= sessions[i - 1].last_index)) {
      corrupt("session " + std::to_string(i) + " out of index order");
    }
    if (!clients.insert(s.client_id).second) corrupt("client " + std::to_string(s.client_id) + " twice");
  }
  if (r.remaining() != 0) corrupt(std::to_string(r.remaining()) + " trailing bytes");

  // Everything parsed: only now replace the state, so a bad snapshot leaves the old one intact.
  SessionTable table(config_.max_sessions);
  table.assign(sessions);
  map_.swap(map);
  slab_.swap(slab);
  sessions_ = std::move(table);
  applied_index_ = applied_index;
}

}  // namespace shmraft::kv
