// The log's next segment, prepared off the loop (segment_preparer.h): a roll takes the spare, the appends
// into it take no page fault per 4 KiB (counted with the thread's minor faults, against the segment
// created at the first roll, which takes one for most pages), every entry reads back after a reopen, and
// a crash that leaves a prepared, unused spare behind recovers the same log, the spare removed.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "node/storage/segmented_log.h"
#include "storage_test_support.h"
#include "tests/page_faults.h"

namespace shmraft::storage {
namespace {

using namespace testing;
using namespace std::chrono_literals;
using shmraft::testing::fault_counts_are_the_programs;
using shmraft::testing::thread_minor_faults;

constexpr std::size_t kSegmentBytes = std::size_t{1} << 20;  // 256 pages
constexpr std::size_t kPayloadBytes = 200;

std::vector<std::string> spares_in(const fs::path& log_dir) {
  std::vector<std::string> spares;
  for (const auto& item : fs::directory_iterator(log_dir)) {
    const std::string name = item.path().filename().string();
    if (name.starts_with("spare-")) spares.push_back(name);
  }
  return spares;
}

constexpr std::size_t kRecordsPerSegment =
    (kSegmentBytes - sizeof(format::SegmentHeader)) / format::record_bytes(kPayloadBytes);

// Appends one segment's worth of entries of kPayloadBytes, one a call, from `next` on (the first starts a
// new segment); returns this thread's minor faults over them.
long fill_a_segment(SegmentedLog& log, uint64_t& next) {
  const std::vector<std::byte> bytes = payload(1, 1, kPayloadBytes);
  long faults = 0;
  for (std::size_t i = 0; i < kRecordsPerSegment; ++i, ++next) {
    const LogEntry entry{next, 1, bytes};
    const long before = thread_minor_faults();
    log.append({&entry, 1});
    faults += thread_minor_faults() - before;
  }
  return faults;
}

bool wait_for_spare(SegmentedLog& log) {
  for (auto deadline = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(1ms)) {
    if (log.spare_ready()) return true;
  }
  return false;
}

TEST(StorageSpareSegment, ARollTakesThePreparedSpareAndWritesIntoItWithoutFaults) {
  TempDir tmp;
  const fs::path log_dir = tmp.path() / "log";
  fs::create_directories(log_dir);
  const Options options = options_with(Durability::batch, kSegmentBytes);
  StorageStats stats;
  RecoveryReport report;
  uint64_t next = 1;
  {
    SegmentedLog log = SegmentedLog::recover(log_dir, options, {}, stats, report);
    const long created = fill_a_segment(log, next);  // its creation starts the preparer
    EXPECT_EQ(log.spares_taken(), 0u);
    const bool count_faults = fault_counts_are_the_programs();
    if (count_faults) {
      EXPECT_GE(created, static_cast<long>(kSegmentBytes / 4096 / 4))
          << "a new mapped segment faults per page";
    }
    ASSERT_TRUE(wait_for_spare(log));
    const long prepared = fill_a_segment(log, next);
    EXPECT_EQ(log.segment_count(), 2u);
    EXPECT_EQ(log.spares_taken(), 1u);
    if (count_faults) {
      EXPECT_LT(prepared, static_cast<long>(kSegmentBytes / 4096 / 16)) << "the spare's pages were populated";
    }
    log.sync();
  }
  EXPECT_TRUE(spares_in(log_dir).empty()) << "an unused spare is removed when the log closes";
  StorageStats reopened_stats;
  RecoveryReport reopened;
  SegmentedLog log = SegmentedLog::recover(log_dir, options, {}, reopened_stats, reopened);
  ASSERT_EQ(log.last_index(), next - 1);
  EXPECT_EQ(log.segment_count(), 2u);
  for (uint64_t i = 1; i < next; ++i) {
    const EntryView entry = log.entry(i);
    ASSERT_EQ(entry.term, 1u) << i;
    ASSERT_EQ(entry.payload.size(), kPayloadBytes) << i;
  }
}

TEST(StorageSpareSegment, ACrashWithAPreparedUnusedSpareRecoversTheSameLog) {
  TempDir tmp;
  const Options options = options_with(Durability::batch, kSegmentBytes);
  const ChildResult child = run_in_child([&](int report_fd) {
    NodeStorage storage(tmp.node(), options);
    append_range(storage, 1, 12000, 1, 7, kPayloadBytes);  // ~2.5 MiB: rolls, then a spare is prepared
    storage.save_hard_state({1, 1, 12000});
    storage.sync();
    const fs::path log_dir = tmp.node() / format::kLogDirName;
    for (int i = 0; i < 30000 && spares_in(log_dir).empty(); ++i) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(100ms);  // populated by now, most likely; a crash mid-way is as good
    report_text(report_fd, std::to_string(spares_in(log_dir).size()));
    ::raise(SIGKILL);  // no destructor runs: the spare stays
  });
  ASSERT_TRUE(WIFSIGNALED(child.status)) << child.report;
  ASSERT_EQ(child.report, "1") << "the child left one spare behind";
  NodeStorage storage(tmp.node(), options);
  EXPECT_EQ(storage.last_index(), 12000u);
  for (uint64_t i = 1; i <= 12000; ++i) ASSERT_TRUE(entry_is(storage, i, 1, kPayloadBytes));
  EXPECT_TRUE(spares_in(tmp.node() / format::kLogDirName).empty());
  bool noted = false;
  for (const std::string& note : storage.recovery().notes) noted = noted || contains(note, "spare");
  EXPECT_TRUE(noted) << "the removal is reported";
  append_range(storage, 12001, 12100, 2, 7, kPayloadBytes);  // and the log goes on
  EXPECT_TRUE(entry_is(storage, 12100, 2, kPayloadBytes));
}

}  // namespace
}  // namespace shmraft::storage
