#include "launcher/bench/bench_cluster.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "launcher/cluster_setup.h"
#include "launcher/launcher_error.h"
#include "launcher/node_launch.h"
#include "launcher/status_table.h"
#include "launcher/supervisor.h"

namespace shmraft::bench {

namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr milliseconds kStopGrace{5000};
constexpr auto kLeaderTimeout = std::chrono::seconds(10);

std::string unique_name() {
  static std::atomic<uint32_t> counter{0};
  return fmt::format("bench-{}-{}", getpid(), counter.fetch_add(1));
}

}  // namespace

std::unique_ptr<BenchCluster> BenchCluster::start(const BenchConfig& config,
                                                  const ipc::SegmentConfig& segment, const ClusterSpec& spec,
                                                  const StopFlag& stop) {
  const std::string name = unique_name();
  const fs::path root =
      (spec.data_root.empty() ? fs::path(launcher::kDefaultDataBase) : spec.data_root) / name;
  std::ostringstream setup_log;  // segment size and the like: the report says it
  launcher::CreatedCluster created = launcher::create_cluster(name, root, segment, setup_log);
  std::unique_ptr<BenchCluster> cluster(
      new BenchCluster(created.dirs, std::move(created.segment), spec.keep_data));

  std::vector<std::string> node_args{"--fsync",   config.fsync,  "--wait",
                                     config.wait, "--transport", config.transport};
  node_args.insert(node_args.end(), spec.node_args.begin(), spec.node_args.end());
  const launcher::NodeLaunchConfig launch{created.dirs, created.id, std::move(node_args)};
  cluster->supervisor_ = std::make_unique<launcher::Supervisor>(
      config.nodes, [launch](uint32_t node) { return launcher::node_launch(launch, node); });
  for (uint32_t node = 0; node < config.nodes; ++node) cluster->supervisor_->start(node);

  const auto began = std::chrono::steady_clock::now();
  while (!launcher::current_leader(cluster->segment_)) {
    if (stop.requested()) return nullptr;
    for (const auto& [node, status] : cluster->supervisor_->reap_exited()) {
      const std::string said = cluster->last_output_line(node);
      throw launcher::LauncherError(fmt::format("node {} of the benchmark cluster exited at start ({}){}{}",
                                                node, status.describe(), said.empty() ? "" : ": ", said));
    }
    if (std::chrono::steady_clock::now() - began > kLeaderTimeout)
      throw launcher::LauncherError(fmt::format("no leader elected within {} s of starting {} nodes",
                                                kLeaderTimeout.count(), config.nodes));
    std::this_thread::sleep_for(milliseconds(2));
  }
  return cluster;
}

BenchCluster::BenchCluster(launcher::ClusterDirs dirs, ipc::Segment segment, bool keep_data)
    : dirs_(std::move(dirs)), segment_(std::move(segment)), keep_data_(keep_data) {}

BenchCluster::~BenchCluster() {
  if (supervisor_) supervisor_->stop_all(kStopGrace);
  supervisor_.reset();
  ipc::Segment::destroy(dirs_.cluster());
  if (!keep_data_) {
    std::error_code ignored;
    fs::remove_all(dirs_.root(), ignored);
  }
}

std::vector<pid_t> BenchCluster::node_pids() const {
  std::vector<pid_t> pids;
  for (uint32_t node = 0; node < supervisor_->nodes(); ++node) pids.push_back(supervisor_->pid(node));
  return pids;
}

std::vector<std::string> BenchCluster::take_exited_nodes() {
  std::vector<std::string> lines;
  for (const auto& [node, status] : supervisor_->reap_exited()) {
    const std::string said = last_output_line(node);
    lines.push_back(
        fmt::format("node {} exited ({}){}{}", node, status.describe(), said.empty() ? "" : ": ", said));
  }
  return lines;
}

std::string BenchCluster::last_output_line(uint32_t node) const {
  std::ifstream in(dirs_.node_output(node));
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

}  // namespace shmraft::bench
