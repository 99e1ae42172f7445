#include "node/storage/format.h"

#include <cstdio>
#include <cstring>

#include "ipc/crc32c.h"

namespace shmraft::storage::format {

uint32_t record_crc(const RecordHeader& header, std::span<const std::byte> payload) noexcept {
  uint32_t crc = ipc::crc32c(&header, kRecordCrcCoveredHeaderBytes);
  return ipc::crc32c(payload.data(), payload.size(), crc);
}

uint32_t segment_header_crc(const SegmentHeader& header) noexcept {
  return ipc::crc32c(&header, offsetof(SegmentHeader, crc));
}

uint32_t meta_slot_crc(const MetaSlot& slot) noexcept {
  return ipc::crc32c(&slot, offsetof(MetaSlot, crc));
}

uint32_t meta_slot_crc(const MetaSlotV2& slot) noexcept {
  return ipc::crc32c(&slot, offsetof(MetaSlotV2, crc));
}

uint32_t meta_slot_crc(const MetaSlotV1& slot) noexcept {
  return ipc::crc32c(&slot, offsetof(MetaSlotV1, crc));
}

uint32_t snapshot_crc(const SnapshotHeader& header, std::span<const std::byte> data) noexcept {
  return ipc::crc32c(data.data(), data.size(), ipc::crc32c(&header, offsetof(SnapshotHeader, crc)));
}

uint32_t snapshot_crc(const SnapshotHeaderV1& header, std::span<const std::byte> data) noexcept {
  return ipc::crc32c(data.data(), data.size(), ipc::crc32c(&header, offsetof(SnapshotHeaderV1, crc)));
}

uint32_t snapshot_crc(const SnapshotHeaderV2& header, std::span<const std::byte> data) noexcept {
  return ipc::crc32c(data.data(), data.size(), ipc::crc32c(&header, offsetof(SnapshotHeaderV2, crc)));
}

bool self_described_crc_holds(std::span<const std::byte> bytes, std::size_t length_offset) noexcept {
  uint32_t length = 0;
  if (bytes.size() < length_offset + sizeof length) return false;
  std::memcpy(&length, bytes.data() + length_offset, sizeof length);
  uint32_t crc = 0;
  if (length < length_offset + sizeof length + sizeof crc || length > bytes.size() || length % sizeof crc != 0)
    return false;
  std::memcpy(&crc, bytes.data() + length - sizeof crc, sizeof crc);
  return crc == ipc::crc32c(bytes.data(), length - sizeof crc);
}

std::string segment_file_name(uint64_t first_index) {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.seg", static_cast<unsigned long long>(first_index));
  return name;
}

std::optional<uint64_t> parse_segment_file_name(std::string_view name) {
  constexpr std::size_t kDigits = 20;
  constexpr std::string_view kSuffix = ".seg";
  if (name.size() != kDigits + kSuffix.size() || name.substr(kDigits) != kSuffix) return std::nullopt;
  uint64_t value = 0;
  for (char c : name.substr(0, kDigits)) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace shmraft::storage::format
