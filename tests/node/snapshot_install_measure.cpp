// Measurement, not a check (label `long`, excluded by default): install time of a large snapshot to a
// wiped follower, beside the time to write and fdatasync the same bytes in the same data directory in
// the same run. Prints medians over SHMRAFT_MEASURE_RUNS (default 5) wipes of the same follower.
//
//   ctest --test-dir build/release -R SnapshotInstallMeasure --output-on-failure -V
#include <fcntl.h>
#include <gtest/gtest.h>

#include <algorithm>
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

// Every "... sent to node N in S s" line in the nodes' logs, in seconds: whichever node led sent it
// (leadership may move under load while a large image is stored on the loop).
std::vector<double> installs_to(TestCluster& cluster, uint32_t to) {
  const std::regex line("\\(([0-9]+) bytes\\) sent to node " + std::to_string(to) + " in ([0-9.]+) s");
  std::vector<double> seen;
  for (uint32_t node = 1; node <= 3; ++node) {
    std::ifstream log(cluster.options(node).effective_log_file());
    for (std::string text; std::getline(log, text);) {
      std::smatch m;
      if (std::regex_search(text, m, line)) seen.push_back(std::stod(m[2]));
    }
  }
  return seen;
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
  const int runs = std::getenv("SHMRAFT_MEASURE_RUNS") ? std::atoi(std::getenv("SHMRAFT_MEASURE_RUNS")) : 5;
  const int keys =
      std::getenv("SHMRAFT_MEASURE_KEYS") ? std::atoi(std::getenv("SHMRAFT_MEASURE_KEYS")) : 2048;
  constexpr std::size_t kValueBytes = 8 << 10;
  TestCluster cluster(3, "snap-measure");
  for (uint32_t i = 1; i <= 3; ++i) {
    cluster.options(i).snapshot_bytes = 16 << 20;
    cluster.options(i).check_invariants = false;
  }
  cluster.start_all();
  ASSERT_TRUE(cluster.wait_for_leader(20s));
  {
    client::Client c(cluster.name(), TestCluster::client_options());
    const std::string value(kValueBytes, 'v');
    for (int i = 0; i < keys; ++i) ASSERT_TRUE(c.put("key" + std::to_string(i), value).ok());
  }
  std::this_thread::sleep_for(2s);  // the last forked snapshot lands
  std::vector<double> install, floor;
  uint64_t image_bytes = 0;
  for (int run = 1; run <= runs; ++run) {
    const std::optional<uint32_t> leader = cluster.wait_for_leader(20s);
    ASSERT_TRUE(leader);
    const uint32_t wiped = *leader % 3 + 1;
    const std::size_t before = installs_to(cluster, wiped).size();
    cluster.kill(wiped);
    std::filesystem::remove_all(cluster.data_dir(wiped));
    cluster.start(wiped);
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    std::vector<double> seen;
    while ((seen = installs_to(cluster, wiped)).size() <= before &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    ASSERT_GT(seen.size(), before) << cluster.log_tail(*leader);
    install.push_back(seen.back());
    for (uint32_t node = 1; node <= 3; ++node) {
      std::ifstream log(cluster.options(node).effective_log_file());
      const std::regex size_line(R"(snapshot at index [0-9]+ term [0-9]+ \(([0-9]+) bytes\) sent)");
      for (std::string text; std::getline(log, text);) {
        std::smatch m;
        if (std::regex_search(text, m, size_line))
          image_bytes = std::max<uint64_t>(image_bytes, std::stoull(m[1]));
      }
    }
    floor.push_back(write_and_flush_seconds(cluster.data_dir(wiped) / "floor.bin", image_bytes));
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
