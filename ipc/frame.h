#pragma once
// Wire format of one frame in a ring (DESIGN §2).
//
//   offset 0  u32 length   payload bytes (0 .. max payload of the ring)
//          4  u16 type     chosen by the user of the ring (ipc gives it no meaning)
//          6  u16 flags    chosen by the user of the ring
//          8  u32 crc32c   over bytes 0..7 of this header, then the payload
//         12  payload      `length` bytes, then zero to 7 bytes of padding
//
// Every frame starts 8-byte aligned, so its footprint is frame_size(length). A frame never straddles
// the end of the buffer: when the next frame does not fit before the end, the producer writes the 8-byte
// pad marker and the frame starts at the beginning of the buffer. The payload is only 4-byte aligned;
// decode it with memcpy. The CRC covers the length, so a corrupted length is detected, not trusted.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

#include "ipc/crc32c.h"

namespace shmraft::ipc {

struct FrameHeader {
  uint32_t length;
  uint16_t type;
  uint16_t flags;
  uint32_t crc;
};
static_assert(sizeof(FrameHeader) == 12);

inline constexpr std::size_t kFrameAlignment = 8;

// First 8 bytes of a pad: a length no real frame can have, and a fixed type/flags pattern.
inline constexpr uint64_t kPadMarker = 0x50414444'FFFFFFFFull;  // length 0xFFFFFFFF, "DDAP"

// Bytes a frame with `payload_length` payload bytes occupies in a ring.
constexpr std::size_t frame_size(std::size_t payload_length) noexcept {
  return (sizeof(FrameHeader) + payload_length + kFrameAlignment - 1) & ~(kFrameAlignment - 1);
}

// The checksum a header must carry for this length, type, flags and payload.
// (Little-endian hosts: the word below has the header's first 8 bytes in memory order.)
inline uint32_t frame_crc(uint32_t length, uint16_t type, uint16_t flags, const void* payload) noexcept {
  const uint64_t prefix = uint64_t{length} | uint64_t{type} << 32 | uint64_t{flags} << 48;
  return crc32c_prefixed(prefix, payload, length);
}
static_assert(std::endian::native == std::endian::little, "the segment format is little-endian");

// A frame as the consumer sees it. `payload` points into the ring and stays valid until the frame is
// released (RingConsumer::release, or the end of the drain callback).
struct Frame {
  uint16_t type = 0;
  uint16_t flags = 0;
  std::span<const std::byte> payload;
};

}  // namespace shmraft::ipc
