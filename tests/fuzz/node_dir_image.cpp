#include "tests/fuzz/node_dir_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>

#include "node/storage/format.h"
#include "tests/fuzz/fuzz_input.h"

namespace shmraft::fuzz {

namespace fs = std::filesystem;
namespace format = storage::format;

namespace {

constexpr std::size_t kSlotBytes = sizeof(format::MetaSlot);

template <class Header>
void reseal(std::vector<std::byte>& bytes, std::size_t offset, uint32_t (*crc)(const Header&)) {
  if (bytes.size() < offset + sizeof(Header)) return;
  Header header;
  std::memcpy(&header, bytes.data() + offset, sizeof header);
  header.crc = crc(header);
  std::memcpy(bytes.data() + offset, &header, sizeof header);
}

void seal_segment(std::vector<std::byte>& bytes) {
  reseal<format::SegmentHeader>(bytes, 0, format::segment_header_crc);
  std::size_t offset = sizeof(format::SegmentHeader);
  while (offset <= bytes.size() && bytes.size() - offset >= sizeof(format::RecordHeader)) {
    format::RecordHeader header;
    std::memcpy(&header, bytes.data() + offset, sizeof header);
    const std::size_t size = format::record_bytes(header.length);
    if (header.index == 0 || size > bytes.size() - offset) return;
    header.crc = format::record_crc(header, std::span(bytes).subspan(offset + sizeof header, header.length));
    std::memcpy(bytes.data() + offset, &header, sizeof header);
    offset += size;
  }
}

// Seals a header of the version the bytes announce (version 1's is shorter and has its own CRC).
template <class Header>
void seal_snapshot_as(std::vector<std::byte>& bytes) {
  if (bytes.size() < sizeof(Header)) return;
  Header header;
  std::memcpy(&header, bytes.data(), sizeof header);
  header.crc = format::snapshot_crc(header, std::span(bytes).subspan(sizeof header));
  std::memcpy(bytes.data(), &header, sizeof header);
}

void seal_snapshot(std::vector<std::byte>& bytes) {
  format::SnapshotHeaderV1 prefix;
  if (bytes.size() < sizeof prefix) return;
  std::memcpy(&prefix, bytes.data(), sizeof prefix);
  if (prefix.version == 1) {
    seal_snapshot_as<format::SnapshotHeaderV1>(bytes);
  } else {
    seal_snapshot_as<format::SnapshotHeader>(bytes);
  }
}

// Seals the meta slot at `offset` in the layout of the version it announces (each version has its own
// length and CRC).
void seal_meta_slot(std::vector<std::byte>& bytes, std::size_t offset) {
  uint32_t version = 0;
  if (bytes.size() < offset + offsetof(format::MetaSlot, version) + sizeof version) return;
  std::memcpy(&version, bytes.data() + offset + offsetof(format::MetaSlot, version), sizeof version);
  if (version == 1) {
    reseal<format::MetaSlotV1>(bytes, offset, format::meta_slot_crc);
  } else if (version == 2) {
    reseal<format::MetaSlotV2>(bytes, offset, format::meta_slot_crc);
  } else {
    reseal<format::MetaSlot>(bytes, offset, format::meta_slot_crc);
  }
}

// The bytes the file holds on disk.
std::vector<std::byte> file_contents(const ImageFile& file) {
  std::vector<std::byte> bytes = file.bytes;
  const bool seal = (file.flags & kSealFlag) != 0;
  switch (file.kind) {
    case FileKind::meta:
      if (file.flags & kSlotsFlag) {
        std::vector<std::byte> laid_out(format::kMetaFileBytes);
        for (std::size_t slot = 0; slot < 2 && slot * kSlotBytes < bytes.size(); ++slot) {
          const std::size_t n = std::min(kSlotBytes, bytes.size() - slot * kSlotBytes);
          std::memcpy(laid_out.data() + slot * format::kMetaSlotStride, bytes.data() + slot * kSlotBytes, n);
        }
        bytes = std::move(laid_out);
      }
      if (seal) {
        seal_meta_slot(bytes, 0);
        seal_meta_slot(bytes, format::kMetaSlotStride);
      }
      break;
    case FileKind::segment:
    case FileKind::segment_leftover:
      if (seal) seal_segment(bytes);
      break;
    case FileKind::snapshot:
    case FileKind::snapshot_leftover:
      if (seal) seal_snapshot(bytes);
      break;
  }
  return bytes;
}

// The file's name relative to the node directory. Strings, not paths: std::filesystem::path allocates
// for every component, and the storage target writes a directory per input.
std::string relative_name(const ImageFile& file) {
  const std::string log = std::string(format::kLogDirName) + "/";
  const std::string snap = std::string(format::kSnapshotDirName) + "/";
  switch (file.kind) {
    case FileKind::meta:
      return std::string(format::kMetaFileName);
    case FileKind::segment:
      return log + format::segment_file_name(file.number);
    case FileKind::segment_leftover:
      return log + format::segment_file_name(file.number) + std::string(format::kTemporarySuffix);
    case FileKind::snapshot:
      return snap + std::string(format::kSnapshotFileName);
    case FileKind::snapshot_leftover:
      return snap + std::string(format::kSnapshotFileName) + std::string(format::kTemporarySuffix);
  }
  throw std::logic_error("unknown file kind");
}

void make_directory(int parent_fd, const char* name) {
  if (::mkdirat(parent_fd, name, 0700) != 0)
    throw std::system_error(errno, std::generic_category(), std::string("mkdir ") + name);
}

void write_file(int dir_fd, const std::string& name, std::span<const std::byte> bytes) {
  const int fd = ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + name);
  const ssize_t written = ::write(fd, bytes.data(), bytes.size());
  const int error = errno;
  ::close(fd);
  if (written != static_cast<ssize_t>(bytes.size()))
    throw std::system_error(error, std::generic_category(), "write " + name);
}

std::vector<std::byte> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> chars{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const auto bytes = std::as_bytes(std::span(chars));
  return {bytes.begin(), bytes.end()};
}

}  // namespace

std::vector<ImageFile> parse_image(std::span<const std::byte> image) {
  FuzzInput input(image);
  std::vector<ImageFile> files;
  while (!input.empty()) {
    ImageFile file;
    file.kind = static_cast<FileKind>(input.integer<uint8_t>() % 5);
    file.flags = input.integer<uint8_t>();
    file.number = input.integer<uint64_t>();
    const std::span<const std::byte> bytes = input.take(input.integer<uint32_t>());
    file.bytes.assign(bytes.begin(), bytes.end());
    files.push_back(std::move(file));
  }
  return files;
}

std::vector<std::byte> serialize_image(const std::vector<ImageFile>& files) {
  FuzzInputWriter out;
  for (const ImageFile& file : files) {
    out.integer(static_cast<uint8_t>(file.kind));
    out.integer(file.flags);
    out.integer(file.number);
    out.integer(static_cast<uint32_t>(file.bytes.size()));
    out.bytes(file.bytes);
  }
  return out.data();
}

void write_node_directory(const fs::path& dir, const std::vector<ImageFile>& files) {
  make_directory(AT_FDCWD, dir.c_str());
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) throw std::system_error(errno, std::generic_category(), "open " + dir.string());
  try {
    make_directory(dir_fd, std::string(format::kLogDirName).c_str());
    make_directory(dir_fd, std::string(format::kSnapshotDirName).c_str());
    for (const ImageFile& file : files) write_file(dir_fd, relative_name(file), file_contents(file));
  } catch (...) {
    ::close(dir_fd);
    throw;
  }
  ::close(dir_fd);
}

std::vector<ImageFile> read_node_directory(const fs::path& dir) {
  std::vector<ImageFile> files;
  std::vector<std::byte> meta = read_file(dir / format::kMetaFileName);
  if (meta.size() == format::kMetaFileBytes) {
    ImageFile file{FileKind::meta, kSlotsFlag, 0, {}};
    file.bytes.insert(file.bytes.end(), meta.begin(), meta.begin() + kSlotBytes);
    file.bytes.insert(file.bytes.end(), meta.begin() + format::kMetaSlotStride,
                      meta.begin() + format::kMetaSlotStride + kSlotBytes);
    files.push_back(std::move(file));
  } else {
    files.push_back({FileKind::meta, 0, 0, std::move(meta)});
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(dir / format::kLogDirName)) {
    const std::optional<uint64_t> first = format::parse_segment_file_name(entry.path().filename().string());
    if (!first) continue;
    std::vector<std::byte> bytes = read_file(entry.path());
    std::size_t end = bytes.size();
    while (end > 0 && bytes[end - 1] == std::byte{0}) --end;
    bytes.resize(std::max((end + 7) & ~std::size_t{7}, sizeof(format::SegmentHeader)));
    files.push_back({FileKind::segment, 0, *first, std::move(bytes)});
  }
  std::sort(files.begin() + 1, files.end(),
            [](const ImageFile& a, const ImageFile& b) { return a.number < b.number; });
  const fs::path snapshot = dir / format::kSnapshotDirName / format::kSnapshotFileName;
  if (fs::exists(snapshot)) files.push_back({FileKind::snapshot, 0, 0, read_file(snapshot)});
  return files;
}

}  // namespace shmraft::fuzz
