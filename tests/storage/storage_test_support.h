#pragma once
// Helpers shared by the storage tests: temporary node directories on the real disk, deterministic
// payloads, raw file surgery for corruption tests, seeds with replay commands, and running a piece of a
// test in a child process (for flock, resource limits, mount namespaces and SIGKILL).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "node/storage/format.h"
#include "node/storage/node_storage.h"
#include "tests/temp_dir.h"
#include "tests/test_seed.h"

namespace shmraft::storage::testing {

namespace fs = std::filesystem;

// A fresh node directory's parent under /tmp (the disk, not /dev/shm), removed at the end.
class TempDir : public shmraft::testing::TempDir {
 public:
  TempDir() : shmraft::testing::TempDir("shmraft-storage") {}
  fs::path node() const { return path() / "node"; }
};

inline uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The payload every test writes for (index, term): its size and bytes follow from both, and no byte is
// zero, so that zeroing any part of a record changes it.
inline std::size_t payload_size(uint64_t index, uint64_t term, std::size_t max_size = 200) {
  return static_cast<std::size_t>(mix(index * 31 + term) % (max_size + 1));
}
inline std::vector<std::byte> payload(uint64_t index, uint64_t term, std::size_t size) {
  std::vector<std::byte> bytes(size);
  uint64_t state = mix(index ^ (term << 40));
  for (std::size_t i = 0; i < size; ++i) {
    if (i % 8 == 0) state = mix(state);
    bytes[i] = static_cast<std::byte>((state >> (8 * (i % 8))) | 1);
  }
  return bytes;
}
inline std::vector<std::byte> payload(uint64_t index, uint64_t term) {
  return payload(index, term, payload_size(index, term));
}

// Appends [from, to] with `term`, `batch` entries per call.
inline void append_range(NodeStorage& storage, uint64_t from, uint64_t to, uint64_t term,
                         std::size_t batch = 7, std::size_t max_size = 200) {
  std::vector<std::vector<std::byte>> payloads;
  std::vector<LogEntry> entries;
  for (uint64_t i = from; i <= to; i += batch) {
    payloads.clear();
    entries.clear();
    for (uint64_t j = i; j <= to && j < i + batch; ++j)
      payloads.push_back(payload(j, term, payload_size(j, term, max_size)));
    for (uint64_t j = i; j <= to && j < i + batch; ++j) entries.push_back({j, term, payloads[j - i]});
    storage.append(entries);
  }
}

// Whether entry `index` holds exactly what append_range wrote for `term`.
inline ::testing::AssertionResult entry_is(const NodeStorage& storage, uint64_t index, uint64_t term,
                                           std::size_t max_size = 200) {
  const EntryView view = storage.entry(index);
  if (view.term != term) {
    return ::testing::AssertionFailure()
           << "entry " << index << " has term " << view.term << ", expected " << term;
  }
  const std::vector<std::byte> expected = payload(index, term, payload_size(index, term, max_size));
  if (!std::equal(view.payload.begin(), view.payload.end(), expected.begin(), expected.end())) {
    return ::testing::AssertionFailure()
           << "entry " << index << " has a different payload (" << view.payload.size() << " bytes, expected "
           << expected.size() << ")";
  }
  return ::testing::AssertionSuccess();
}

inline Options options_with(Durability durability, std::size_t segment_bytes = 64 * 1024) {
  Options options;
  options.durability = durability;
  options.segment_bytes = segment_bytes;
  return options;
}

// The log's segments, oldest first (not a spare being prepared for the next roll: segment_preparer.h).
inline std::vector<fs::path> segment_files(const fs::path& node) {
  std::vector<fs::path> files;
  for (const auto& item : fs::directory_iterator(node / "log")) {
    if (format::parse_segment_file_name(item.path().filename().string())) files.push_back(item.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

inline std::vector<std::byte> read_file(const fs::path& path) {
  std::vector<std::byte> bytes(fs::file_size(path));
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0 || ::pread(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    throw std::runtime_error("cannot read " + path.string());
  }
  ::close(fd);
  return bytes;
}

inline void write_at(const fs::path& path, uint64_t offset, const void* data, std::size_t size) {
  int fd = ::open(path.c_str(), O_WRONLY);
  if (fd < 0 || ::pwrite(fd, data, size, static_cast<off_t>(offset)) != static_cast<ssize_t>(size)) {
    throw std::runtime_error("cannot write " + path.string());
  }
  ::close(fd);
}

inline void write_file(const fs::path& path, const std::vector<std::byte>& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ::pwrite(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    throw std::runtime_error("cannot write " + path.string());
  }
  ::close(fd);
}

// Replaces the snapshot file of node directory `node` with `header` (of any format version; its CRC is
// sealed here over `data`) followed by `data`: a file an older build wrote.
template <class SnapshotHeader>
void write_snapshot_file(const fs::path& node, SnapshotHeader header, const std::vector<std::byte>& data) {
  header.crc = format::snapshot_crc(header, data);
  std::vector<std::byte> file(reinterpret_cast<const std::byte*>(&header),
                              reinterpret_cast<const std::byte*>(&header) + sizeof header);
  file.insert(file.end(), data.begin(), data.end());
  write_file(node / "snap" / "snapshot", file);
}

inline void flip_bit(const fs::path& path, uint64_t offset, int bit) {
  std::vector<std::byte> bytes = read_file(path);
  bytes.at(offset) ^= static_cast<std::byte>(1u << bit);
  write_at(path, offset, &bytes[offset], 1);
}

// Which of meta's two slots holds the newer state.
inline std::size_t newest_meta_slot(const fs::path& meta) {
  const std::vector<std::byte> bytes = read_file(meta);
  format::MetaSlot slots[2];
  std::memcpy(&slots[0], &bytes[0], sizeof slots[0]);
  std::memcpy(&slots[1], &bytes[format::kMetaSlotStride], sizeof slots[1]);
  return slots[0].sequence > slots[1].sequence ? 0 : 1;
}

// Where each record of a segment file starts, found by walking its headers (test-side, independent of
// the library's scan).
inline std::vector<uint64_t> record_offsets(const fs::path& segment) {
  const std::vector<std::byte> bytes = read_file(segment);
  std::vector<uint64_t> offsets;
  uint64_t offset = sizeof(format::SegmentHeader);
  while (offset + sizeof(format::RecordHeader) <= bytes.size()) {
    format::RecordHeader header;
    std::memcpy(&header, &bytes[offset], sizeof header);
    if (header.index == 0) break;
    offsets.push_back(offset);
    offset += format::record_bytes(header.length);
  }
  return offsets;
}

// Zeroes the log from the record of entry `index` to the end of its segment and removes every later
// segment: a tail lost behind the storage's back.
inline void zero_log_from(const fs::path& node, uint64_t index) {
  for (const fs::path& segment : segment_files(node)) {
    const uint64_t first = *format::parse_segment_file_name(segment.filename().string());
    const std::vector<uint64_t> offsets = record_offsets(segment);
    if (first > index) {
      fs::remove(segment);
    } else if (index < first + offsets.size()) {
      const std::vector<std::byte> zeros(fs::file_size(segment) - offsets[index - first]);
      write_at(segment, offsets[index - first], zeros.data(), zeros.size());
    }
  }
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "(no exception)";
}

// ---- seeds ----
using shmraft::testing::announce_seed;
using shmraft::testing::replay_command;
using shmraft::testing::test_seed;

// ---- child processes ----
// Runs `body` in a forked child and returns what it wrote to `report` (its first argument, a file
// descriptor) together with its exit status. The child never returns into the test framework.
struct ChildResult {
  int status = 0;
  std::string report;
  bool exited_ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

inline void report_text(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

inline ChildResult run_in_child(const std::function<void(int report_fd)>& body) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    int code = 0;
    try {
      body(fds[1]);
    } catch (const std::exception& error) {
      report_text(fds[1], std::string("child threw: ") + error.what());
      code = 1;
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  ChildResult result;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;)
    result.report.append(buffer, static_cast<std::size_t>(n));
  ::close(fds[0]);
  ::waitpid(pid, &result.status, 0);
  return result;
}

// What a process killed in the middle of a Ready leaves behind: whatever `ready` wrote to the storage of
// `node`, with no sync() after it — so the watermark does not cover what it appended (a kill keeps every
// store; the process dies before its destructor could sync).
inline void run_and_die_before_sync(const fs::path& node, const Options& options,
                                    const std::function<void(NodeStorage&)>& ready) {
  const ChildResult child = run_in_child([&](int) {
    NodeStorage storage(node, options);
    ready(storage);
    ::_exit(0);
  });
  if (!child.exited_ok())
    throw std::runtime_error("the child writing " + node.string() + " failed: " + child.report);
}

}  // namespace shmraft::storage::testing
