#include "node/process/snapshot_chunk.h"

#include <cstring>

#include "ipc/crc32c.h"

namespace shmraft::node {
namespace {

class Writer {
 public:
  explicit Writer(std::byte* out) noexcept : p_(out) {}
  template <class T>
  void put(T value) noexcept {  // little-endian hosts only, as the rest of the wire formats
    std::memcpy(p_, &value, sizeof value);
    p_ += sizeof value;
  }

 private:
  std::byte* p_;
};

class Reader {
 public:
  explicit Reader(const std::byte* in) noexcept : p_(in) {}
  template <class T>
  T get() noexcept {
    T value;
    std::memcpy(&value, p_, sizeof value);
    p_ += sizeof value;
    return value;
  }

 private:
  const std::byte* p_;
};

uint32_t data_crc(std::span<const std::byte> data) noexcept {
  return ipc::crc32c(data.data(), data.size());
}

}  // namespace

bool encode(const ChunkFrame& frame, std::span<std::byte> out) noexcept {
  if (out.size() < encoded_size(frame)) return false;
  Writer w(out.data());
  w.put(kChunkFrameTag);
  w.put(static_cast<uint8_t>(frame.kind));
  w.put(frame.from);
  w.put(frame.to);
  w.put(frame.term);
  w.put(frame.id.index);
  w.put(frame.id.term);
  w.put(frame.id.bytes);
  w.put(frame.id.crc);
  w.put(frame.id.voters);
  w.put(frame.id.learners);
  w.put(frame.id.repairing);
  w.put(frame.id.repair_incarnation);
  w.put(frame.offset);
  w.put(data_crc(frame.data));
  w.put(static_cast<uint32_t>(frame.data.size()));
  std::byte* data = out.data() + kChunkHeaderBytes;
  if (!frame.data.empty() && frame.data.data() != data)
    std::memcpy(data, frame.data.data(), frame.data.size());
  return true;
}

std::optional<ChunkFrame> decode_chunk(std::span<const std::byte> in) noexcept {
  if (in.size() < kChunkHeaderBytes || in[0] != kChunkFrameTag) return std::nullopt;
  Reader r(in.data() + 1);
  ChunkFrame frame;
  const auto kind = r.get<uint8_t>();
  if (kind < static_cast<uint8_t>(ChunkKind::kOffer) || kind > static_cast<uint8_t>(ChunkKind::kNack))
    return std::nullopt;
  frame.kind = static_cast<ChunkKind>(kind);
  frame.from = r.get<uint32_t>();
  frame.to = r.get<uint32_t>();
  frame.term = r.get<uint64_t>();
  frame.id.index = r.get<uint64_t>();
  frame.id.term = r.get<uint64_t>();
  frame.id.bytes = r.get<uint64_t>();
  frame.id.crc = r.get<uint32_t>();
  frame.id.voters = r.get<uint64_t>();
  frame.id.learners = r.get<uint64_t>();
  frame.id.repairing = r.get<uint32_t>();
  frame.id.repair_incarnation = r.get<uint64_t>();
  frame.offset = r.get<uint64_t>();
  frame.data_crc = r.get<uint32_t>();
  const auto length = r.get<uint32_t>();
  if (in.size() - kChunkHeaderBytes != length) return std::nullopt;
  if (length != 0 && frame.kind != ChunkKind::kData) return std::nullopt;
  if (frame.offset > frame.id.bytes || length > frame.id.bytes - frame.offset) return std::nullopt;
  const raft::ConfState conf = frame.id.conf_state();
  if (!conf.voters.valid() || !conf.learners.valid() || (frame.id.voters & frame.id.learners) != 0)
    return std::nullopt;
  // A repair names one node and the lost start it repairs, both or neither (as the snapshot file).
  if ((conf.repairing == 0) != (conf.repair_incarnation == 0) || conf.repairing > raft::kMaxNodeId)
    return std::nullopt;
  frame.data = in.subspan(kChunkHeaderBytes);
  return frame;
}

bool intact(const ChunkFrame& frame) noexcept {
  return data_crc(frame.data) == frame.data_crc;
}

}  // namespace shmraft::node
