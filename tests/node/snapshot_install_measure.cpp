// Measurement, not a check (label `long`, excluded by default): install time of a large snapshot to a
// wiped follower — from the leader's offer to the follower's state machine holding it (received in
// chunks into a file, flushed and restored off its loop, renamed into place) — beside the time to write
// and fdatasync the same bytes in the same data directory in the same run. Prints medians over
// SHMRAFT_MEASURE_RUNS (default 5) wipes of the same follower.
//
//   SHMRAFT_MEASURE_KEYS (default 2048) keys of SHMRAFT_MEASURE_VALUE_BYTES (default 8192), written by
//   4 clients; a snapshot every SHMRAFT_MEASURE_SNAPSHOT_MIB (default 16) MiB of log.
//   ctest --test-dir build/release -R SnapshotInstallMeasure --output-on-failure -V
#include <fcntl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "ipc/clock.h"
#include "launcher/client/client.h"
#include "node/storage/file.h"
#include "tests/node/test_cluster.h"

namespace shmraft::node::testing {
namespace {

using namespace std::chrono_literals;

struct Installed {
  uint64_t bytes = 0;
  double seconds = 0;
  std::string line;  // where the time went: flush, restore, the loop's pause
};

// Every "installed snapshot at index I term T (B bytes) from node N in S s" line of the node's log.
std::vector<Installed> installs(TestCluster& cluster, uint32_t node) {
  const std::regex line(
      R"(installed snapshot at index [0-9]+ term [0-9]+ \(([0-9]+) bytes\) from node [0-9]+ in ([0-9.]+) s)");
  std::vector<Installed> seen;
  std::ifstream log(cluster.options(node).effective_log_file());
  for (std::string text; std::getline(log, text);) {
    std::smatch m;
    if (std::regex_search(text, m, line)) seen.push_back({std::stoull(m[1]), std::stod(m[2]), m.suffix()});
  }
  return seen;
}

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::strtoull(value, nullptr, 10) : fallback;
}

double write_and_flush_seconds(const std::filesystem::path& file, std::size_t bytes) {
  const std::vector<std::byte> data(bytes, std::byte{0x5a});
  const uint64_t start = ipc::monotonic_ns();
  const storage::UniqueFd fd = storage::open_file(file, O_WRONLY | O_CREAT | O_TRUNC);
  storage::write_all_at(fd.get(), data.data(), data.size(), 0, file);
  storage::sync_file_data(fd.get(), file);
  const double seconds = static_cast<double>(ipc::monotonic_ns() - start) / 1e9;
  std::filesystem::remove(file);
  return seconds;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

TEST(SnapshotInstallMeasure, LargeSnapshotToAWipedFollowerBesideWriteAndFlush) {
  const int runs = static_cast<int>(env_or("SHMRAFT_MEASURE_RUNS", 5));
  const uint64_t keys = env_or("SHMRAFT_MEASURE_KEYS", 2048);
  const std::size_t value_bytes = env_or("SHMRAFT_MEASURE_VALUE_BYTES", 8 << 10);
  constexpr int kWriters = 4;
  TestCluster cluster(3, "snap-measure");
  for (uint32_t i = 1; i <= 3; ++i) {
    cluster.options(i).snapshot_bytes = env_or("SHMRAFT_MEASURE_SNAPSHOT_MIB", 16) << 20;
    cluster.options(i).check_invariants = false;
  }
  cluster.start_all();
  ASSERT_TRUE(cluster.wait_for_leader(20s));
  const uint64_t load_start = ipc::monotonic_ns();
  {
    std::vector<std::thread> writers;
    std::atomic<uint64_t> failed{0};
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        client::Client c(cluster.name(), TestCluster::client_options());
        const std::string value(value_bytes, static_cast<char>('a' + w));
        for (uint64_t i = w; i < keys; i += kWriters)
          if (!c.put("key" + std::to_string(i), value).ok()) ++failed;
      });
    }
    for (std::thread& t : writers) t.join();
    ASSERT_EQ(failed.load(), 0u);
  }
  std::printf("loaded %llu keys of %zu bytes in %.1f s\n", static_cast<unsigned long long>(keys), value_bytes,
              static_cast<double>(ipc::monotonic_ns() - load_start) / 1e9);
  // The leader's snapshot of the load lands (a child writes it: at a GiB, on a busy host, minutes).
  const auto landed = [&](uint32_t node) {
    std::ifstream log(cluster.options(node).effective_log_file());
    for (std::string text; std::getline(log, text);)
      if (text.find("written by a child") != std::string::npos) return true;
    return false;
  };
  const auto snapshot_deadline = std::chrono::steady_clock::now() + 900s;
  while (!landed(cluster.wait_for_leader(60s).value_or(1)) &&
         std::chrono::steady_clock::now() < snapshot_deadline)
    std::this_thread::sleep_for(100ms);
  std::this_thread::sleep_for(2s);  // and the followers' own
  std::vector<double> install, floor;
  uint64_t image_bytes = 0;
  for (int run = 1; run <= runs; ++run) {
    const std::optional<uint32_t> leader = cluster.wait_for_leader(60s);
    ASSERT_TRUE(leader);
    const uint32_t wiped = *leader % 3 + 1;
    cluster.kill(wiped);
    std::filesystem::remove_all(cluster.data_dir(wiped));
    cluster.start(wiped);  // a fresh log file: its only install is this run's
    const auto deadline = std::chrono::steady_clock::now() + 600s;
    std::vector<Installed> seen;
    while ((seen = installs(cluster, wiped)).empty() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    ASSERT_FALSE(seen.empty()) << cluster.log_tail(*leader) << cluster.log_tail(wiped);
    install.push_back(seen.back().seconds);
    image_bytes = seen.back().bytes;
    floor.push_back(write_and_flush_seconds(cluster.data_dir(wiped) / "floor.bin", image_bytes));
    std::printf("run %d: install %.3f s, write+fdatasync %.3f s (follower: ...%s)\n", run, install.back(),
                floor.back(), seen.back().line.c_str());
  }
  std::printf(
      "snapshot install to a wiped follower: %.1f MiB image, %d runs: install median %.3f s (min %.3f, max "
      "%.3f); write+fdatasync of the same bytes in its data dir: median %.3f s; ratio %.2f\n",
      static_cast<double>(image_bytes) / (1 << 20), runs, median(install),
      *std::min_element(install.begin(), install.end()), *std::max_element(install.begin(), install.end()),
      median(floor), median(install) / median(floor));
}

}  // namespace
}  // namespace shmraft::node::testing
