// Bad input gets a clear error and leaves the existing data intact: a missing or unwritable directory,
// a full disk, a file-size limit, a second owner of the directory, files of a newer format version.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "ipc/crc32c.h"
#include "storage_test_support.h"

namespace shmraft::storage {
namespace {

using namespace testing;

TEST(StorageBadInput, MissingParentDirectoryIsAClearError) {
  TempDir tmp;
  const fs::path node = tmp.path() / "no-such-parent" / "node";
  const std::string error = message_of([&] { NodeStorage storage(node); });
  EXPECT_TRUE(
      contains(error, "its parent directory " + (tmp.path() / "no-such-parent").string() + " does not exist"))
      << error;
  EXPECT_FALSE(fs::exists(tmp.path() / "no-such-parent"));
}

TEST(StorageBadInput, MissingNodeDirectoryIsCreatedWhenItsParentExists) {
  TempDir tmp;
  NodeStorage storage(tmp.node());
  EXPECT_TRUE(fs::is_directory(tmp.node() / "log"));
  EXPECT_TRUE(fs::is_directory(tmp.node() / "snap"));
  EXPECT_TRUE(fs::is_regular_file(tmp.node() / "meta"));
}

TEST(StorageBadInput, PathThatIsAFileIsAClearError) {
  TempDir tmp;
  write_file(tmp.node(), std::vector<std::byte>(10));
  const std::string error = message_of([&] { NodeStorage storage(tmp.node()); });
  EXPECT_TRUE(contains(error, "exists but is not a directory")) << error;
}

TEST(StorageBadInput, InvalidSegmentSizeIsAClearError) {
  TempDir tmp;
  Options options;
  options.segment_bytes = 1000;
  const std::string error = message_of([&] { NodeStorage storage(tmp.node(), options); });
  EXPECT_TRUE(contains(error, "segment_bytes 1000")) << error;
  EXPECT_FALSE(fs::exists(tmp.node()));
}

// Root ignores permission bits, so the child gives up root first (to nobody) when it has it.
void become_unprivileged() {
  if (::geteuid() != 0) return;
  if (::setgid(65534) != 0 || ::setuid(65534) != 0) throw std::runtime_error("cannot drop to nobody");
}

TEST(StorageBadInput, UnwritableDirectoryIsAClearError) {
  TempDir tmp;
  ::chmod(tmp.path().c_str(), 0755);
  fs::create_directory(tmp.node());
  ::chmod(tmp.node().c_str(), 0555);
  fs::create_directory(tmp.path() / "read-only-parent");
  ::chmod((tmp.path() / "read-only-parent").c_str(), 0555);
  const ChildResult result = run_in_child([&](int report) {
    become_unprivileged();
    report_text(report, message_of([&] { NodeStorage storage(tmp.node()); }) + "\n");
    report_text(report,
                message_of([&] { NodeStorage storage(tmp.path() / "read-only-parent" / "node"); }) + "\n");
  });
  ASSERT_TRUE(result.exited_ok()) << result.report;
  EXPECT_TRUE(contains(result.report,
                       "node directory is not writable: " + tmp.node().string() + ": Permission denied"))
      << result.report;
  EXPECT_TRUE(contains(result.report, "cannot create node directory " +
                                          (tmp.path() / "read-only-parent" / "node").string() +
                                          ": Permission denied"))
      << result.report;
  EXPECT_TRUE(fs::is_empty(tmp.node()));
}

struct UniqueFdForTest {
  int fd;
  explicit UniqueFdForTest(int f) : fd(f) {}
  ~UniqueFdForTest() { ::close(fd); }
};

// Collects failed checks inside a child process, where gtest assertions cannot report.
struct ChildChecks {
  int fd;
  void check(bool ok, const std::string& what) {
    if (!ok) report_text(fd, "FAIL " + what + "\n");
  }
};

// Fills a small disk: the append that needs a new segment fails cleanly, nothing is half-written, the
// log, hard state and snapshot stay intact and usable, and a reopen sees exactly what was there.
void exercise_full_disk(const fs::path& node, ChildChecks& checks, const std::string& expected_error) {
  const Options options = options_with(Durability::batch, 256 * 1024);
  uint64_t last = 0;
  std::string error;
  {
    NodeStorage storage(node, options);
    const std::vector<std::byte> state = payload(7, 7, 1000);
    append_range(storage, 1, 1, 1);
    storage.save_snapshot({1, 1}, state);
    try {
      for (uint64_t i = 2;; ++i) {
        const std::vector<std::byte> data = payload(i, 1, 1024);
        const LogEntry entry{i, 1, data};
        storage.append({&entry, 1});
        storage.sync();
        last = i;
        if (i > 100000) break;
      }
    } catch (const StorageError& e) {
      error = e.what();
    }
    checks.check(contains(error, expected_error), "append error: " + error);
    checks.check(contains(error, node.string() + "/log/"), "the error names the segment: " + error);
    checks.check(storage.last_index() == last, "last index unchanged by the failed append");
    for (uint64_t i = 2; i <= last; ++i)
      checks.check(storage.entry(i).payload.size() == 1024, "entry intact");
    for (const auto& item : fs::directory_iterator(node / "log")) {
      // A spare the preparer thread is making or holds for the next roll is no leftover of the failed one
      // (removed when the log closes; the reopen below finds nothing to repair).
      if (item.path().filename().string().starts_with("spare-")) continue;
      checks.check(item.path().extension() == ".seg", "no temporary file left: " + item.path().string());
    }
    // The hard state lives in a preallocated file: it can still be saved.
    storage.save_hard_state({2, 1, last});
    storage.sync();
    // A snapshot too large for the disk fails and leaves the old one.
    const std::string snapshot_error = message_of([&] {
      storage.save_snapshot({last, 1}, std::vector<std::byte>(4 << 20, std::byte{1}));
    });
    checks.check(contains(snapshot_error, expected_error), "snapshot error: " + snapshot_error);
    checks.check(storage.snapshot_meta() == SnapshotMeta{1, 1}, "old snapshot still current");
    checks.check(!fs::exists(node / "snap" / "snapshot.tmp"), "no temporary snapshot left");
  }
  NodeStorage storage(node, options);
  checks.check(storage.last_index() == last, "reopened log has every entry");
  checks.check(storage.hard_state() == HardState{2, 1, last}, "reopened hard state");
  const std::optional<Snapshot> snapshot = storage.load_snapshot();
  checks.check(snapshot && snapshot->data == payload(7, 7, 1000), "reopened snapshot");
  checks.check(storage.recovery().notes.empty(), "nothing to repair after a full disk");
  report_text(checks.fd, "DONE last=" + std::to_string(last) + " error=" + error + "\n");
}

TEST(StorageBadInput, FullDiskOnASmallTmpfs) {
  TempDir tmp;
  const fs::path disk = tmp.path() / "disk";
  fs::create_directory(disk);
  const ChildResult result = run_in_child([&](int report) {
    // A private mount namespace: the tmpfs is invisible to every other process and goes away with us.
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=1m,mode=0700") != 0) {
      report_text(report, std::string("SKIP cannot mount a tmpfs here: ") + std::strerror(errno) +
                              " (FileSizeLimitStopsGrowth covers the same path without privileges)\n");
      return;
    }
    ChildChecks checks{report};
    exercise_full_disk(disk / "node", checks, "No space left on device");
    // Opening a new node directory on a disk with no byte left fails and leaves nothing behind.
    {
      UniqueFdForTest filler(::open((disk / "filler").c_str(), O_WRONLY | O_CREAT, 0600));
      const std::vector<char> block(4096, 'x');
      while (::write(filler.fd, block.data(), block.size()) > 0) {
      }
    }
    const std::string error =
        message_of([&] { NodeStorage other(disk / "other", options_with(Durability::batch)); });
    checks.check(contains(error, "No space left on device"), "fresh open on a full disk: " + error);
    checks.check(!fs::exists(disk / "other"), "the half-made directory was removed");
  });
  if (contains(result.report, "SKIP")) GTEST_SKIP() << result.report;
  ASSERT_TRUE(result.exited_ok()) << result.report;
  EXPECT_FALSE(contains(result.report, "FAIL")) << result.report;
  EXPECT_TRUE(contains(result.report, "DONE")) << result.report;
}

// RLIMIT_FSIZE makes growth fail without privileges: a segment larger than the limit (one sized for an
// oversized record) cannot be preallocated.
TEST(StorageBadInput, FileSizeLimitStopsGrowthCleanly) {
  TempDir tmp;
  const ChildResult result = run_in_child([&](int report) {
    ::signal(SIGXFSZ, SIG_IGN);  // else the kernel kills us instead of failing fallocate with EFBIG
    const rlimit limit{300 * 1024, 300 * 1024};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) throw std::runtime_error("setrlimit failed");
    ChildChecks checks{report};
    const Options options = options_with(Durability::batch, 256 * 1024);
    {
      NodeStorage storage(tmp.node(), options);
      append_range(storage, 1, 100, 1);
      const std::vector<std::byte> small = payload(101, 1, 10);
      const std::vector<std::byte> huge = payload(102, 1, 400 * 1024);
      const LogEntry entries[] = {{101, 1, small}, {102, 1, huge}};
      const std::string error = message_of([&] { storage.append(entries); });
      checks.check(contains(error, "File too large"), "append error: " + error);
      checks.check(contains(error, format::segment_file_name(102)), "the error names the segment: " + error);
      checks.check(storage.last_index() == 100, "nothing of the failed batch was written");
      append_range(storage, 101, 120, 1);
      storage.sync();
    }
    NodeStorage storage(tmp.node(), options);
    checks.check(storage.last_index() == 120, "reopened log");
    for (uint64_t i = 1; i <= 120; ++i)
      checks.check(bool(entry_is(storage, i, 1)), "entry " + std::to_string(i));
    report_text(report, "DONE\n");
  });
  ASSERT_TRUE(result.exited_ok()) << result.report;
  EXPECT_FALSE(contains(result.report, "FAIL")) << result.report;
  EXPECT_TRUE(contains(result.report, "DONE")) << result.report;
}

TEST(StorageBadInput, SecondOpenInTheSameProcessFails) {
  TempDir tmp;
  NodeStorage first(tmp.node());
  const std::string error = message_of([&] { NodeStorage second(tmp.node()); });
  EXPECT_TRUE(contains(error, "is already open in another process or NodeStorage")) << error;
  EXPECT_TRUE(contains(error, tmp.node().string())) << error;
}

// A child forked by the holder — the node's snapshot writer — does not hold the lock: once the holder
// died, the directory opens at once, while the child still runs with every descriptor it inherited (with a
// flock it stayed locked until the child closed them).
TEST(StorageBadInput, AForkedChildDoesNotKeepTheDirectoryLocked) {
  TempDir tmp;
  { NodeStorage create(tmp.node()); }
  int from_holder[2];
  ASSERT_EQ(::pipe(from_holder), 0);
  const pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    NodeStorage storage(tmp.node());
    const pid_t writer = ::fork();
    if (writer == 0) {
      ::sleep(5);  // inherited descriptors all open
      ::_exit(0);
    }
    (void)!::write(from_holder[1], &writer, sizeof writer);
    ::_exit(0);  // dies holding the storage; the writer lives on
  }
  pid_t writer = 0;
  ASSERT_EQ(::read(from_holder[0], &writer, sizeof writer), static_cast<ssize_t>(sizeof writer));
  int status = 0;
  ::waitpid(holder, &status, 0);
  ASSERT_EQ(::kill(writer, 0), 0) << "the writer must still run";
  EXPECT_EQ(message_of([&] { NodeStorage again(tmp.node()); }), "(no exception)");
  ::kill(writer, SIGKILL);
  ::close(from_holder[0]);
  ::close(from_holder[1]);
}

TEST(StorageBadInput, SecondProcessOnTheSameDirectoryFails) {
  TempDir tmp;
  { NodeStorage create(tmp.node()); }
  int to_child[2];
  int from_child[2];
  ASSERT_EQ(::pipe(to_child), 0);
  ASSERT_EQ(::pipe(from_child), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    NodeStorage holder(tmp.node());
    char byte = 'o';
    (void)!::write(from_child[1], &byte, 1);
    (void)!::read(to_child[0], &byte, 1);  // hold the directory until told to let go
    ::_exit(0);
  }
  char byte;
  ASSERT_EQ(::read(from_child[0], &byte, 1), 1);
  const std::string error = message_of([&] { NodeStorage second(tmp.node()); });
  EXPECT_TRUE(contains(error, "is already open in another process")) << error;
  ASSERT_EQ(::write(to_child[1], &byte, 1), 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  NodeStorage after(tmp.node());  // free again once the holder is gone
  for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) ::close(fd);
}

TEST(StorageBadInput, SegmentOfANewerFormatVersionIsRefused) {
  TempDir tmp;
  {
    NodeStorage storage(tmp.node());
    append_range(storage, 1, 10, 1);
  }
  const fs::path segment = segment_files(tmp.node()).front();
  format::SegmentHeader header;
  const std::vector<std::byte> bytes = read_file(segment);
  std::memcpy(&header, bytes.data(), sizeof header);
  header.version = format::kSegmentVersion + 1;
  header.crc = format::segment_header_crc(header);
  write_at(segment, 0, &header, sizeof header);
  const std::string error = message_of([&] { NodeStorage storage(tmp.node()); });
  EXPECT_TRUE(
      contains(error, segment.string() + " has format version 3, newer than this build understands (2)"))
      << error;
}

// Format version 1 had no entry type in its 24-byte record headers (format.h). Such a directory is refused,
// naming both versions, and left exactly as it was.
TEST(StorageBadInput, SegmentOfFormatVersion1IsRefusedAndLeftIntact) {
  TempDir tmp;
  { NodeStorage storage(tmp.node()); }
  struct RecordHeaderV1 {
    uint64_t index, term;
    uint32_t length, crc;
  };
  static_assert(sizeof(RecordHeaderV1) == 24);
  format::SegmentHeader header;
  header.version = 1;
  header.first_index = 1;
  header.crc = format::segment_header_crc(header);
  std::vector<std::byte> bytes(64 * 1024);
  std::memcpy(bytes.data(), &header, sizeof header);
  std::size_t offset = sizeof header;
  for (uint64_t index = 1; index <= 3; ++index) {
    const std::vector<std::byte> data = payload(index, 1, index == 1 ? 0 : 16);  // 1: v1's no-op
    RecordHeaderV1 record{index, 1, static_cast<uint32_t>(data.size()), 0};
    record.crc = ipc::crc32c(data.data(), data.size(), ipc::crc32c(&record, 20));
    std::memcpy(&bytes[offset], &record, sizeof record);
    std::copy(data.begin(), data.end(), bytes.begin() + static_cast<std::ptrdiff_t>(offset + sizeof record));
    offset += (sizeof record + data.size() + 7) & ~std::size_t{7};
  }
  const fs::path segment = tmp.node() / "log" / format::segment_file_name(1);
  write_file(segment, bytes);

  const std::string error = message_of([&] { NodeStorage storage(tmp.node()); });
  EXPECT_TRUE(contains(error, segment.string() + " has format version 1, whose records carry no entry type; "
                                                 "this build reads version 2 only"))
      << error;
  EXPECT_EQ(read_file(segment), bytes);
}

TEST(StorageBadInput, MetaOfANewerFormatVersionIsRefused) {
  TempDir tmp;
  { NodeStorage storage(tmp.node()); }
  const fs::path meta = tmp.node() / "meta";
  format::MetaSlot slot;
  slot.version = format::kMetaVersion + 1;
  slot.sequence = 5;
  slot.crc = format::meta_slot_crc(slot);
  write_at(meta, format::kMetaSlotStride, &slot, sizeof slot);
  const std::string error = message_of([&] { NodeStorage storage(tmp.node()); });
  EXPECT_TRUE(contains(error, meta.string() + " slot 1 has format version " +
                                  std::to_string(format::kMetaVersion + 1) + ", newer"))
      << error;
}

// A node directory with entries 1..10 and a snapshot at 10, whose snapshot file is then replaced by a
// bare header (no data) sealed with a good CRC (unless `seal` is false: the header as given); returns the
// error of opening it again.
std::string open_with_snapshot_header(format::SnapshotHeader header, fs::path& snapshot, bool seal = true) {
  TempDir tmp;
  {
    NodeStorage storage(tmp.node());
    append_range(storage, 1, 10, 1);
    storage.save_snapshot({10, 1}, {});
  }
  snapshot = tmp.node() / "snap" / "snapshot";
  if (seal) header.crc = format::snapshot_crc(header, {});
  write_file(snapshot, std::vector<std::byte>(reinterpret_cast<std::byte*>(&header),
                                              reinterpret_cast<std::byte*>(&header) + sizeof header));
  return message_of([&] { NodeStorage storage(tmp.node()); });
}

TEST(StorageBadInput, SnapshotOfANewerFormatVersionIsRefused) {
  format::SnapshotHeader header;
  header.version = format::kSnapshotVersion + 1;
  header.last_index = 10;
  header.last_term = 1;
  fs::path snapshot;
  const std::string error = open_with_snapshot_header(header, snapshot);
  EXPECT_TRUE(contains(error, snapshot.string() + " has format version " +
                                  std::to_string(format::kSnapshotVersion + 1) + ", newer"))
      << error;
}

// A flipped bit in our own file's version is damage (set aside and repaired), not a newer format: the
// file checks out as our version (chaos found it: a node refused to start on "version 16777219").
TEST(StorageBadInput, ABitFlipInASnapshotsVersionIsDamageNotANewerFormat) {
  format::SnapshotHeader header;
  header.last_index = 10;
  header.last_term = 1;
  header.crc = format::snapshot_crc(header, {});
  header.version ^= 1u << 24;
  fs::path snapshot;
  const std::string error = open_with_snapshot_header(header, snapshot, false);
  EXPECT_TRUE(
      contains(error, "checks out as version " + std::to_string(format::kSnapshotVersion) + ": a bit flip"))
      << error;
}

TEST(StorageBadInput, SnapshotWithAnImpossibleConfigurationIsRefused) {
  for (const auto& [voters, learners] : {std::pair<uint64_t, uint64_t>{0b1, 0}, {0b110, 0b100}}) {
    format::SnapshotHeader header;
    header.last_index = 10;
    header.last_term = 1;
    header.voters = voters;
    header.learners = learners;
    fs::path snapshot;
    const std::string error = open_with_snapshot_header(header, snapshot);
    EXPECT_TRUE(contains(error, snapshot.string() + " records an impossible configuration")) << error;
  }
}

// Found by storage_recovery_fuzz: a snapshot with a good CRC but an index no snapshot can end at.
TEST(StorageBadInput, SnapshotAtIndexZeroOrTheLastIndexIsRefused) {
  for (const uint64_t last_index : {uint64_t{0}, UINT64_MAX}) {
    format::SnapshotHeader header;
    header.last_index = last_index;
    header.last_term = 5;
    fs::path snapshot;
    const std::string error = open_with_snapshot_header(header, snapshot);
    EXPECT_TRUE(contains(error, "claims last index " + std::to_string(last_index))) << error;
  }
}

TEST(StorageBadInput, MissingMetaWithSegmentsPresentIsRefused) {
  TempDir tmp;
  {
    NodeStorage storage(tmp.node());
    append_range(storage, 1, 10, 1);
  }
  fs::remove(tmp.node() / "meta");
  const std::string error = message_of([&] { NodeStorage storage(tmp.node()); });
  EXPECT_TRUE(contains(error, "is missing but the log holds segments")) << error;
}

TEST(StorageBadInput, MissingMetaWithASnapshotPresentIsRefused) {
  TempDir tmp;
  {
    NodeStorage storage(tmp.node());
    append_range(storage, 1, 10, 1);
    storage.save_snapshot({10, 1}, payload(10, 1, 100));
    storage.compact(10);
  }
  for (const fs::path& segment : segment_files(tmp.node())) fs::remove(segment);
  fs::remove(tmp.node() / "meta");
  const std::string error = message_of([&] { NodeStorage storage(tmp.node()); });
  EXPECT_TRUE(contains(error, "is missing but a snapshot is present")) << error;
}

// A directory that exists but holds nothing (made by hand, or emptied) is initialised, and says so.
TEST(StorageBadInput, EmptiedDirectoryIsReportedAsCreated) {
  TempDir tmp;
  {
    NodeStorage storage(tmp.node());
    append_range(storage, 1, 10, 1);
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(tmp.node())) fs::remove_all(entry.path());
  NodeStorage storage(tmp.node());
  EXPECT_TRUE(storage.recovery().created);
  EXPECT_EQ(storage.last_index(), 0u);
}

TEST(StorageBadInput, UnexpectedFileInTheLogDirectoryIsRefused) {
  TempDir tmp;
  { NodeStorage storage(tmp.node()); }
  write_file(tmp.node() / "log" / "notes.txt", std::vector<std::byte>(3));
  const std::string error = message_of([&] { NodeStorage storage(tmp.node()); });
  EXPECT_TRUE(contains(error, "unexpected file " + (tmp.node() / "log" / "notes.txt").string())) << error;
}

}  // namespace
}  // namespace shmraft::storage
