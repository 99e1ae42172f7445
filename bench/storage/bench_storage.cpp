// bench_storage: the log's cost on every commit.
//
//   Append/<mode>/<payload>/<batch>   one Ready = append `batch` records + sync(); records/s, MB/s, and
//                                     p50/p99 latency of a Ready
//   PwriteFdatasync/<payload>/<batch> the same records with pwrite + one fdatasync per Ready, on a
//                                     fallocated file: the classic WAL, for comparison in the same run
//   BareMsync/<payload>/<batch>       memcpy of the same bytes into a fallocated mapping + one msync: the
//                                     floor under mode batch ("batch adds <= 1.2x a bare msync")
//   BatchOverBareMsync/<payload>/<batch> the two above alternated in one loop; ratio of their medians
//   MsyncWriteAmplification/<prep>    64-byte msync on a file prepared with fallocate, with 1 MiB zero
//                                     pwrites, or with zero pwrites and the page cache dropped; bytes
//                                     dirtied per msync from /proc/self/io write_bytes
//   WriteBackThenFlush                a 64 B append made durable in two timed steps: its page written
//                                     back (sync_file_range), then the device cache flushed (fdatasync)
//   DurableCopies/<copies>/<grouped>  `copies` threads, each with its own file on the same disk, append
//                                     one 64 B record each; p50 of the time until a majority of them is
//                                     durable. grouped=0: each fdatasyncs its own file (what the nodes of
//                                     a cluster under --fsync batch do); grouped=1: each writes its page
//                                     back (sync_file_range) and the last one issues the only fdatasync,
//                                     whose device flush covers them all — the best a cross-process group
//                                     commit could do on this disk. Files are pre-written with zeros, so
//                                     the flush has no extent conversion to commit.
//   Recovery1GiB/<cache>              opening a 1 GiB log of 1 KiB records, page cache warm or dropped
//   RecoveryTail64MiB                 opening a node whose one 64 MiB segment holds 8 MiB of 1 KiB records
//   and
//                                     whose tail was written with zeros (data, not a hole, as a tail the
//                                     page cache has read becomes): CPU time of recovery's tail scans
//   RecordCrc/<impl>/<payload>        CRC32C of one record, SSE4.2 vs the portable (Boost.CRC) code
//   Term                              term(i) at random indexes of a multi-segment log
//
// Files go to $SHMRAFT_BENCH_DIR or the temporary directory (on this VM /tmp is the ext4 disk, not
// tmpfs) and are removed afterwards.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ipc/crc32c.h"
#include "node/storage/format.h"
#include "node/storage/node_storage.h"

namespace {

namespace fs = std::filesystem;
using shmraft::storage::Durability;
using shmraft::storage::LogEntry;
using shmraft::storage::NodeStorage;
using shmraft::storage::Options;
namespace format = shmraft::storage::format;
using Clock = std::chrono::steady_clock;

fs::path bench_root() {
  if (const char* dir = std::getenv("SHMRAFT_BENCH_DIR")) return dir;
  return fs::temp_directory_path();
}

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (bench_root() / "shmraft-bench-storage-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed in " + bench_root().string());
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Latencies of sampled operations, reported as p50/p99 counters (in microseconds).
class LatencySamples {
 public:
  LatencySamples() { samples_.reserve(1 << 20); }
  void add(Clock::duration d) {
    if (samples_.size() < samples_.capacity())
      samples_.push_back(std::chrono::duration<double, std::micro>(d).count());
  }
  void report(benchmark::State& state, const std::string& prefix = "") {
    if (samples_.empty()) return;
    std::sort(samples_.begin(), samples_.end());
    state.counters[prefix + "p50_us"] = samples_[samples_.size() / 2];
    state.counters[prefix + "p99_us"] = samples_[samples_.size() * 99 / 100];
  }

 private:
  std::vector<double> samples_;
};

std::vector<std::byte> filler(std::size_t size) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>(i * 131 + 7);
  return bytes;
}

void set_throughput(benchmark::State& state, std::size_t records, std::size_t payload) {
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.SetBytesProcessed(static_cast<int64_t>(records * payload));
}

void Append(benchmark::State& state, Durability mode) {
  const auto payload = static_cast<std::size_t>(state.range(0));
  const auto batch = static_cast<std::size_t>(state.range(1));
  ScratchDir dir;
  Options options;
  options.durability = mode;
  NodeStorage storage(dir.path() / "node", options);
  const std::vector<std::byte> data = filler(payload);
  std::vector<LogEntry> entries(batch);
  LatencySamples latency;
  // In mode none a Ready takes tens of ns; timing every one would distort it.
  const uint64_t sample_every = mode == Durability::none ? 64 : 1;
  uint64_t next = 1;
  uint64_t readies = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch; ++i) entries[i] = LogEntry{next + i, 1, data};
    const bool sample = readies++ % sample_every == 0;
    const Clock::time_point start = sample ? Clock::now() : Clock::time_point{};
    storage.append(entries);
    storage.sync();
    if (sample) latency.add(Clock::now() - start);
    next += batch;
  }
  set_throughput(state, (next - 1), payload);
  latency.report(state);
  state.counters["flushes_per_ready"] =
      benchmark::Counter(static_cast<double>(storage.stats().flushes) / static_cast<double>(readies));
}

// A fallocated file of `bytes`, open read-write.
int preallocated_file(const fs::path& path, std::size_t bytes) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || ::fallocate(fd, 0, 0, static_cast<off_t>(bytes)) != 0)
    throw std::runtime_error("cannot prepare " + path.string());
  return fd;
}

// Flush benchmarks run this long unmeasured: flushes right after a file's creation was made durable are
// faster for a while (see launcher/bench/device_flush.cpp), and a log flushes for much longer.
constexpr std::chrono::milliseconds kFlushWarmup{250};

constexpr std::size_t kScratchFileBytes = std::size_t{256} << 20;

void PwriteFdatasync(benchmark::State& state) {
  const auto payload = static_cast<std::size_t>(state.range(0));
  const auto batch = static_cast<std::size_t>(state.range(1));
  ScratchDir dir;
  const int fd = preallocated_file(dir.path() / "wal", kScratchFileBytes);
  const std::size_t record = format::record_bytes(payload);
  std::vector<std::byte> buffer(record * batch);
  const std::vector<std::byte> data = filler(payload);
  LatencySamples latency;
  uint64_t offset = 0;
  uint64_t index = 1;
  for (auto _ : state) {
    if (offset + buffer.size() > kScratchFileBytes) offset = 0;  // wrap: the file stays allocated
    const Clock::time_point start = Clock::now();
    for (std::size_t i = 0; i < batch; ++i, ++index) {
      format::RecordHeader header{index, 1, static_cast<uint32_t>(payload)};
      header.crc = format::record_crc(header, data);
      std::memcpy(&buffer[i * record], &header, sizeof header);
      std::memcpy(&buffer[i * record + sizeof header], data.data(), payload);
    }
    if (::pwrite(fd, buffer.data(), buffer.size(), static_cast<off_t>(offset)) !=
            static_cast<ssize_t>(buffer.size()) ||
        ::fdatasync(fd) != 0) {
      state.SkipWithError("pwrite/fdatasync failed");
      break;
    }
    latency.add(Clock::now() - start);
    offset += buffer.size();
  }
  ::close(fd);
  set_throughput(state, index - 1, payload);
  latency.report(state);
}

void BareMsync(benchmark::State& state) {
  const auto payload = static_cast<std::size_t>(state.range(0));
  const auto batch = static_cast<std::size_t>(state.range(1));
  ScratchDir dir;
  const int fd = preallocated_file(dir.path() / "map", kScratchFileBytes);
  auto* base =
      static_cast<std::byte*>(::mmap(nullptr, kScratchFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  const std::size_t bytes = format::record_bytes(payload) * batch;
  const std::vector<std::byte> data = filler(bytes);
  LatencySamples latency;
  std::size_t offset = 0;
  uint64_t records = 0;
  for (auto _ : state) {
    if (offset + bytes > kScratchFileBytes) offset = 0;
    const Clock::time_point start = Clock::now();
    std::memcpy(base + offset, data.data(), bytes);
    const std::size_t page_start = offset & ~std::size_t{4095};
    if (::msync(base + page_start, offset + bytes - page_start, MS_SYNC) != 0) {
      state.SkipWithError("msync failed");
      break;
    }
    latency.add(Clock::now() - start);
    offset += bytes;
    records += batch;
  }
  ::munmap(base, kScratchFileBytes);
  ::close(fd);
  set_throughput(state, records, payload);
  latency.report(state);
}

// Mode batch against a bare msync of the same bytes, alternating one of each so both see the same disk
// and the same neighbours: the fairest ratio a shared machine allows.
void BatchOverBareMsync(benchmark::State& state) {
  const auto payload = static_cast<std::size_t>(state.range(0));
  const auto batch = static_cast<std::size_t>(state.range(1));
  ScratchDir dir;
  Options options;
  options.durability = Durability::batch;
  NodeStorage storage(dir.path() / "node", options);
  const int fd = preallocated_file(dir.path() / "map", kScratchFileBytes);
  auto* base =
      static_cast<std::byte*>(::mmap(nullptr, kScratchFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  const std::vector<std::byte> data = filler(payload);
  const std::size_t bytes = format::record_bytes(payload) * batch;
  const std::vector<std::byte> raw = filler(bytes);
  std::vector<LogEntry> entries(batch);
  std::vector<double> with_storage;
  std::vector<double> bare;
  uint64_t next = 1;
  std::size_t offset = 0;
  auto through_storage = [&] {
    for (std::size_t i = 0; i < batch; ++i) entries[i] = LogEntry{next + i, 1, data};
    const Clock::time_point start = Clock::now();
    storage.append(entries);
    storage.sync();
    with_storage.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    next += batch;
  };
  auto bare_msync = [&] {
    if (offset + bytes > kScratchFileBytes) offset = 0;
    const Clock::time_point start = Clock::now();
    std::memcpy(base + offset, raw.data(), bytes);
    const std::size_t page_start = offset & ~std::size_t{4095};
    ::msync(base + page_start, offset + bytes - page_start, MS_SYNC);
    bare.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    offset += bytes;
  };
  bool storage_first = true;  // alternate who goes first: a flush can be slowed by the one just before it
  for (auto _ : state) {
    if (storage_first) {
      through_storage();
      bare_msync();
    } else {
      bare_msync();
      through_storage();
    }
    storage_first = !storage_first;
  }
  ::munmap(base, kScratchFileBytes);
  ::close(fd);
  std::sort(with_storage.begin(), with_storage.end());
  std::sort(bare.begin(), bare.end());
  const double batch_p50 = with_storage[with_storage.size() / 2];
  const double bare_p50 = bare[bare.size() / 2];
  state.counters["batch_p50_us"] = batch_p50;
  state.counters["bare_msync_p50_us"] = bare_p50;
  state.counters["ratio_p50"] = batch_p50 / bare_p50;
}

uint64_t process_write_bytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return 0;
}

// 0: fallocate; 1: 1 MiB pwrites of zeros; 2: 1 MiB pwrites of zeros, then the page cache dropped.
void MsyncWriteAmplification(benchmark::State& state) {
  const int preparation = static_cast<int>(state.range(0));
  constexpr std::size_t kBytes = std::size_t{64} << 20;
  ScratchDir dir;
  const fs::path path = dir.path() / "segment";
  int fd;
  if (preparation == 0) {
    fd = preallocated_file(path, kBytes);
  } else {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    const std::vector<char> zeros(1 << 20);
    for (std::size_t at = 0; at < kBytes; at += zeros.size()) {
      if (::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(at)) !=
          static_cast<ssize_t>(zeros.size())) {
        state.SkipWithError("pwrite failed");
        return;
      }
    }
    ::fdatasync(fd);
    if (preparation == 2) ::posix_fadvise(fd, 0, kBytes, POSIX_FADV_DONTNEED);
  }
  auto* base = static_cast<char*>(::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  LatencySamples latency;
  std::size_t offset = 0;
  uint64_t msyncs = 0;
  const uint64_t written_before = process_write_bytes();
  for (auto _ : state) {
    if (offset + 64 > kBytes) offset = 0;
    std::memset(base + offset, static_cast<int>(msyncs | 1), 64);
    const Clock::time_point start = Clock::now();
    const std::size_t page_start = offset & ~std::size_t{4095};
    ::msync(base + page_start, offset + 64 - page_start, MS_SYNC);
    latency.add(Clock::now() - start);
    offset += 64;
    ++msyncs;
  }
  state.counters["dirtied_bytes_per_msync"] =
      static_cast<double>(process_write_bytes() - written_before) / static_cast<double>(msyncs);
  latency.report(state);
  ::munmap(base, kBytes);
  ::close(fd);
  static const char* const kNames[] = {"fallocate", "zero pwrites", "zero pwrites + page cache dropped"};
  state.SetLabel(kNames[preparation]);
}

// One 64 B append to a fallocated, mapped file made durable in two timed steps: its page written to the
// device (sync_file_range, waiting for completion), then the device's cache flushed (fdatasync, with
// nothing left to write). What one durable append is made of on this disk, and so the least a majority
// of copies on one disk pays: a page write per copy and a flush.
void WriteBackThenFlush(benchmark::State& state) {
  constexpr std::size_t kBytes = std::size_t{16} << 20;
  constexpr std::size_t kRecord = 64;
  ScratchDir dir;
  const int fd = preallocated_file(dir.path() / "segment", kBytes);
  auto* base = static_cast<char*>(::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  if (::fdatasync(fd) != 0 || base == MAP_FAILED) {
    state.SkipWithError("cannot prepare the file");
    ::close(fd);
    return;
  }
  const unsigned flags = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
  std::size_t offset = 0;
  bool ok = true;
  LatencySamples write_back;
  LatencySamples flush;
  auto append_durably = [&](bool timed) {
    if (offset + kRecord > kBytes) offset = 0;
    std::memset(base + offset, static_cast<int>(offset | 1), kRecord);
    const auto page = static_cast<off_t>(offset & ~std::size_t{4095});
    offset += kRecord;
    const Clock::time_point start = Clock::now();
    ok = ok && ::sync_file_range(fd, page, 4096, flags) == 0;
    const Clock::time_point written = Clock::now();
    ok = ok && ::fdatasync(fd) == 0;
    if (!timed) return;
    write_back.add(written - start);
    flush.add(Clock::now() - written);
  };
  for (const Clock::time_point warm = Clock::now() + kFlushWarmup; Clock::now() < warm;)
    append_durably(false);
  for (auto _ : state) append_durably(true);
  if (!ok) state.SkipWithError("sync_file_range or fdatasync failed");
  write_back.report(state, "write_back_");
  flush.report(state, "flush_");
  ::munmap(base, kBytes);
  ::close(fd);
}

// Built once per process and shared by both cache variants; removed at exit.
struct OneGiBLog {
  ScratchDir dir;
  uint64_t entries = 0;
  OneGiBLog() {
    Options options;
    options.durability = Durability::batch;
    NodeStorage storage(dir.path() / "node", options);
    const std::vector<std::byte> data = filler(1024);
    std::vector<LogEntry> batch(256);
    const uint64_t target = (uint64_t{1} << 30) / format::record_bytes(1024);
    while (entries < target) {
      for (std::size_t i = 0; i < batch.size(); ++i) batch[i] = LogEntry{entries + 1 + i, 1, data};
      storage.append(batch);
      entries += batch.size();
    }
    storage.sync();  // everything on the disk, so the page cache can be dropped
  }
  void drop_page_cache() const {
    for (const auto& item : fs::directory_iterator(dir.path() / "node" / "log")) {
      const int fd = ::open(item.path().c_str(), O_RDONLY | O_CLOEXEC);
      ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
      ::close(fd);
    }
  }
};

OneGiBLog& one_gib_log() {
  static OneGiBLog log;
  return log;
}

void DurableCopies(benchmark::State& state) {
  const auto copies = static_cast<std::size_t>(state.range(0));
  const bool grouped = state.range(1) != 0;
  constexpr std::size_t kFileBytes = std::size_t{16} << 20;
  constexpr std::size_t kRecord = 64;
  ScratchDir dir;
  std::vector<int> fds;
  const std::vector<std::byte> zeros(1 << 20);
  for (std::size_t c = 0; c < copies; ++c) {
    const fs::path path = dir.path() / ("copy" + std::to_string(c));
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + path.string());
    for (std::size_t at = 0; at < kFileBytes; at += zeros.size())
      if (::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(at)) !=
          static_cast<ssize_t>(zeros.size()))
        throw std::runtime_error("cannot zero " + path.string());
    if (::fsync(fd) != 0) throw std::runtime_error("cannot fsync " + path.string());
    fds.push_back(fd);
  }
  // Round r: every thread stamps its start, writes and makes durable its record, stamps its end.
  std::vector<Clock::time_point> started(copies), durable(copies);
  std::atomic<std::size_t> written_back{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  uint64_t round = 0;
  std::barrier go(static_cast<std::ptrdiff_t>(copies + 1)), done(static_cast<std::ptrdiff_t>(copies + 1));
  std::vector<std::thread> threads;
  for (std::size_t c = 0; c < copies; ++c) {
    threads.emplace_back([&, c] {
      const std::vector<std::byte> record = filler(kRecord);
      for (;;) {
        go.arrive_and_wait();
        if (stop.load()) return;
        const off_t offset = static_cast<off_t>((round * kRecord) % kFileBytes);
        started[c] = Clock::now();
        bool ok = ::pwrite(fds[c], record.data(), kRecord, offset) == static_cast<ssize_t>(kRecord);
        if (!grouped) {
          ok = ok && ::fdatasync(fds[c]) == 0;
          durable[c] = Clock::now();
        } else {
          const unsigned flags =
              SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
          ok = ok && ::sync_file_range(fds[c], offset & ~off_t{4095}, 4096, flags) == 0;
          if (written_back.fetch_add(1) + 1 == copies) {
            ok = ok && ::fdatasync(fds[c]) == 0;  // the last write-back is in: one flush covers all
            const Clock::time_point now = Clock::now();
            for (Clock::time_point& t : durable) t = now;
          }
        }
        if (!ok) failed = true;
        done.arrive_and_wait();
      }
    });
  }
  // One round; the time from the first start until a majority is durable.
  auto run_round = [&] {
    written_back = 0;
    go.arrive_and_wait();
    done.arrive_and_wait();
    ++round;
    std::vector<Clock::time_point> ends = durable;
    std::sort(ends.begin(), ends.end());
    return ends[copies / 2] - *std::min_element(started.begin(), started.end());
  };
  for (const Clock::time_point warm = Clock::now() + kFlushWarmup; Clock::now() < warm;) run_round();
  LatencySamples latency;
  for (auto _ : state) {
    const Clock::duration majority_durable = run_round();
    if (failed.load()) {
      state.SkipWithError("pwrite/fdatasync/sync_file_range failed");
      break;
    }
    latency.add(majority_durable);
  }
  stop = true;
  go.arrive_and_wait();
  for (std::thread& t : threads) t.join();
  for (const int fd : fds) ::close(fd);
  latency.report(state);
}

void Recovery1GiB(benchmark::State& state) {
  const bool cold = state.range(0) == 1;
  OneGiBLog& log = one_gib_log();
  Options options;
  options.durability = Durability::batch;
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      log.drop_page_cache();
      state.ResumeTiming();
    }
    NodeStorage storage(log.dir.path() / "node", options);
    if (storage.last_index() != log.entries) state.SkipWithError("recovered the wrong number of entries");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * (int64_t{1} << 30));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * log.entries));
  state.SetLabel(cold ? "page cache dropped" : "page cache warm");
}

// A restarted follower's log: one preallocated segment, partly filled, its tail zeros that SEEK_DATA
// reports as data, so recovery's scans after the last record walk all of it.
void RecoveryTail64MiB(benchmark::State& state) {
  ScratchDir dir;
  Options options;
  options.durability = Durability::none;
  uint64_t entries = 0;
  {
    NodeStorage storage(dir.path() / "node", options);
    const std::vector<std::byte> data = filler(1024);
    std::vector<LogEntry> batch(256);
    while (entries * format::record_bytes(1024) < (std::size_t{8} << 20)) {
      for (std::size_t i = 0; i < batch.size(); ++i) batch[i] = LogEntry{entries + 1 + i, 1, data};
      storage.append(batch);
      entries += batch.size();
    }
  }
  for (const auto& item : fs::directory_iterator(dir.path() / "node" / "log")) {
    const int fd = ::open(item.path().c_str(), O_RDWR | O_CLOEXEC);
    const std::vector<char> zeros(1 << 20);
    const auto size = static_cast<off_t>(fs::file_size(item.path()));
    for (off_t at = off_t{9} << 20; at < size; at += static_cast<off_t>(zeros.size()))
      if (::pwrite(fd, zeros.data(), zeros.size(), at) < 0) state.SkipWithError("pwrite failed");
    ::close(fd);
  }
  for (auto _ : state) {
    NodeStorage storage(dir.path() / "node", options);
    if (storage.last_index() != entries) state.SkipWithError("recovered the wrong number of entries");
  }
}

void RecordCrc(benchmark::State& state) {
  const bool hardware = state.range(0) == 1;
  const auto payload = static_cast<std::size_t>(state.range(1));
  const std::vector<std::byte> data = filler(sizeof(format::RecordHeader) + payload);
  if (hardware && !shmraft::ipc::crc32c_hardware_available()) {
    state.SkipWithError("no SSE4.2 on this CPU");
    return;
  }
  for (auto _ : state) {
    const uint32_t crc = hardware ? shmraft::ipc::crc32c_hardware(data.data(), data.size())
                                  : shmraft::ipc::crc32c_portable(data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
  state.SetLabel(hardware ? "SSE4.2" : "portable (Boost.CRC)");
}

void Term(benchmark::State& state) {
  ScratchDir dir;
  Options options;
  options.durability = Durability::none;
  options.segment_bytes = 1 << 20;
  NodeStorage storage(dir.path() / "node", options);
  const std::vector<std::byte> data = filler(64);
  std::vector<LogEntry> batch(1000);
  for (uint64_t first = 1; first <= 200'000; first += batch.size()) {
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i] = LogEntry{first + i, 1, data};
    storage.append(batch);
  }
  std::mt19937_64 rng(42);
  std::vector<uint64_t> indexes(4096);
  for (uint64_t& i : indexes) i = 1 + rng() % storage.last_index();
  std::size_t k = 0;
  for (auto _ : state) benchmark::DoNotOptimize(storage.term(indexes[k++ & 4095]));
}

void register_benchmarks() {
  for (auto [mode, name] : {std::pair{Durability::none, "none"}, std::pair{Durability::batch, "batch"},
                            std::pair{Durability::always, "always"}}) {
    auto* b = benchmark::RegisterBenchmark((std::string("Append/") + name).c_str(),
                                           [mode](benchmark::State& s) { Append(s, mode); });
    b->ArgNames({"payload", "batch"})->UseRealTime();
    for (int64_t payload : {64, 1024, 4096}) {
      if (mode == Durability::none) {
        b->Args({payload, 1})->Args({payload, 64});
      } else if (mode == Durability::batch) {
        b->Args({payload, 1})->Args({payload, 64});
      } else {
        b->Args({payload, 1});
      }
    }
    if (mode == Durability::none) b->MinTime(0.2);
  }
  benchmark::RegisterBenchmark("PwriteFdatasync", PwriteFdatasync)
      ->ArgNames({"payload", "batch"})
      ->ArgsProduct({{64, 1024, 4096}, {1, 64}})
      ->UseRealTime();
  benchmark::RegisterBenchmark("BareMsync", BareMsync)
      ->ArgNames({"payload", "batch"})
      ->ArgsProduct({{64, 1024, 4096}, {1, 64}})
      ->UseRealTime();
  benchmark::RegisterBenchmark("BatchOverBareMsync", BatchOverBareMsync)
      ->ArgNames({"payload", "batch"})
      ->ArgsProduct({{64, 1024, 4096}, {1, 64}})
      ->Iterations(300)
      ->UseRealTime();
  benchmark::RegisterBenchmark("MsyncWriteAmplification", MsyncWriteAmplification)
      ->ArgName("prep")
      ->DenseRange(0, 2)
      ->Iterations(2000)
      ->UseRealTime();
  benchmark::RegisterBenchmark("WriteBackThenFlush", WriteBackThenFlush)->Iterations(2000)->UseRealTime();
  benchmark::RegisterBenchmark("DurableCopies", DurableCopies)
      ->ArgNames({"copies", "grouped"})
      ->Args({1, 0})
      ->Args({2, 0})
      ->Args({3, 0})
      ->Args({2, 1})
      ->Args({3, 1})
      ->Iterations(1000)
      ->UseRealTime();
  benchmark::RegisterBenchmark("Recovery1GiB", Recovery1GiB)
      ->ArgName("cold")
      ->DenseRange(0, 1)
      ->Iterations(3)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("RecoveryTail64MiB", RecoveryTail64MiB)
      ->Iterations(20)
      ->Repetitions(5)
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("RecordCrc", RecordCrc)
      ->ArgNames({"hw", "payload"})
      ->ArgsProduct({{1, 0}, {64, 1024, 4096}});
  benchmark::RegisterBenchmark("Term", Term);
}

}  // namespace

int main(int argc, char** argv) {
  register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
