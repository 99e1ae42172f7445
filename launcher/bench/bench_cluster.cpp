#include "launcher/bench/bench_cluster.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "launcher/bench/bench_options.h"
#include "launcher/bench/in_leader_node.h"
#include "launcher/bench/node_window.h"
#include "launcher/child_process.h"
#include "launcher/cluster_setup.h"
#include "launcher/launcher_error.h"
#include "launcher/live_cluster.h"
#include "launcher/node_launch.h"
#include "launcher/status_table.h"
#include "launcher/supervisor.h"

namespace shmraft::bench {

namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr milliseconds kStopGrace{5000};
constexpr auto kLeaderTimeout = std::chrono::seconds(30);  // generous: nodes may run under valgrind

}  // namespace

std::unique_ptr<BenchCluster> BenchCluster::start(const BenchConfig& config,
                                                  const ipc::SegmentConfig& segment, const ClusterSpec& spec,
                                                  const StopFlag& stop) {
  if (!spec.attach_to.empty()) {
    launcher::LiveCluster live = launcher::LiveCluster::attach(spec.attach_to);
    std::unique_ptr<BenchCluster> cluster(
        new BenchCluster(spec.attach_to, std::move(live.segment()), std::nullopt, ipc::ClusterId{}, true));
    for (const pid_t pid : published_node_pids(cluster->segment_))
      cluster->attached_pids_.push_back(launcher::process_exists(pid) ? pid : 0);
    return cluster;
  }
  const fs::path base = spec.data_root.empty() ? launcher::default_data_base() : spec.data_root;
  const std::string name = launcher::unused_cluster_name("bench", base);
  const fs::path root = base / name;
  std::ostringstream setup_log;  // segment size and the like: the report says it
  launcher::CreatedCluster created = launcher::create_cluster(name, root, segment, setup_log);
  std::unique_ptr<BenchCluster> cluster(
      new BenchCluster(name, std::move(created.segment), created.dirs, created.id, spec.keep_data));

  std::vector<std::string> node_args{
      "--fsync",     config.fsync,     "--wait",    config.wait,
      "--transport", config.transport, "--spin-us", std::to_string(spec.spin_us)};
  if (config.realtime) node_args.push_back("--realtime");
  if (config.in_leader) {
    node_args.push_back(kInLeaderFlag);
    node_args.push_back(in_leader_flag_value(InLeaderLoad{config, spec.spin_us}));
  }
  node_args.insert(node_args.end(), spec.node_args.begin(), spec.node_args.end());
  const launcher::NodeLaunchConfig launch{created.dirs, created.id, std::move(node_args)};
  // Room for every node the segment has slots for: `--reconfigure add` starts one beyond the voters.
  cluster->supervisor_ = std::make_unique<launcher::Supervisor>(
      cluster->segment_.max_nodes(), [launch](uint32_t node) { return launcher::node_launch(launch, node); });
  for (uint32_t node = 1; node <= config.nodes; ++node) cluster->supervisor_->start(node);

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

BenchCluster::BenchCluster(std::string name, ipc::Segment segment, std::optional<launcher::ClusterDirs> dirs,
                           ipc::ClusterId id, bool keep_data)
    : name_(std::move(name)),
      segment_(std::move(segment)),
      dirs_(std::move(dirs)),
      id_(id),
      keep_data_(keep_data) {}

BenchCluster::~BenchCluster() {
  if (!dirs_) return;  // attached: not ours
  if (supervisor_) supervisor_->stop_all(kStopGrace);
  supervisor_.reset();
  ipc::Segment::destroy(name_);
  if (!keep_data_) {
    std::error_code ignored;
    fs::remove_all(dirs_->root(), ignored);
  }
}

std::vector<pid_t> BenchCluster::node_pids() const {
  if (!supervisor_) return attached_pids_;
  std::vector<pid_t> pids;
  for (uint32_t node = 1; node <= segment_.node_count(); ++node) pids.push_back(supervisor_->pid(node));
  return pids;
}

fs::path BenchCluster::node_dir(uint32_t node) const {
  return dirs_ ? dirs_->node_dir(node) : fs::path();
}

std::vector<std::string> BenchCluster::take_exited_nodes() {
  std::vector<std::string> lines;
  if (!supervisor_) {
    for (uint32_t node = 1; node <= attached_pids_.size(); ++node) {
      pid_t& pid = attached_pids_[ipc::slot_of(node)];
      if (pid == 0 || launcher::process_exists(pid)) continue;
      lines.push_back(fmt::format("node {} (pid {}) exited", node, pid));
      pid = 0;
    }
    return lines;
  }
  for (const auto& [node, status] : supervisor_->reap_exited()) {
    const std::string said = last_output_line(node);
    lines.push_back(
        fmt::format("node {} exited ({}){}{}", node, status.describe(), said.empty() ? "" : ": ", said));
  }
  return lines;
}

launcher::Supervisor& BenchCluster::own_supervisor() {
  if (!supervisor_)
    throw launcher::LauncherError(
        "cannot start or signal the nodes of a cluster the benchmark did not start");
  return *supervisor_;
}

void BenchCluster::signal_node(pid_t pid, int signal) {
  own_supervisor();
  for (const uint32_t node : supervisor_->running_nodes()) {
    if (supervisor_->pid(node) != pid) continue;
    if (signal == SIGKILL) {
      supervisor_->kill(node);
      killed_[pid] = node;
    } else if (::kill(pid, signal) != 0) {
      throw launcher::LauncherError(
          fmt::format("cannot signal node process {}: {}", pid, std::strerror(errno)));
    }
    return;
  }
  throw launcher::LauncherError(fmt::format("process {} is not a running node of cluster '{}'", pid, name_));
}

pid_t BenchCluster::restart_node(pid_t killed, bool isolated) {
  const auto it = killed_.find(killed);
  if (it == killed_.end())
    throw launcher::LauncherError(fmt::format("node process {} was not killed by the benchmark", killed));
  const uint32_t node = it->second;
  killed_.erase(it);
  // This process's threads are the clients.
  return supervisor_->start(
      node, isolated ? launcher::StartPlacement::own_cpu : launcher::StartPlacement::shared, {getpid()});
}

void BenchCluster::end_start_isolation() {
  supervisor_->end_start_isolation();
}

pid_t BenchCluster::start_joining_node(uint32_t node) {
  launcher::Supervisor& supervisor = own_supervisor();
  dirs_->stamp_node(node, id_);
  return supervisor.start(node);
}

void BenchCluster::stop_node(uint32_t node) {
  own_supervisor().stop(node, kStopGrace);
}

std::string BenchCluster::last_output_line(uint32_t node) const {
  if (!dirs_) return {};
  std::ifstream in(dirs_->node_output(node));
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

BenchConfig config_for_running_cluster(const std::string& name, BenchConfig config) {
  launcher::LiveCluster live = launcher::LiveCluster::attach(name);
  ipc::Segment& segment = live.segment();
  config.nodes = segment.node_count();
  config.transport = "shm";
  for (uint32_t node = 1; node <= config.nodes; ++node) {
    if (segment.node_counters(node).tcp_port.load(std::memory_order_relaxed) != 0) config.transport = "tcp";
  }
  if (config.clients > segment.client_slots()) {
    throw std::invalid_argument(fmt::format("--clients {}: cluster '{}' has only {} client slots",
                                            config.clients, name, segment.client_slots()));
  }
  const uint64_t needed = segment_config_for(config).client_ring_capacity;
  if (needed > segment.config().client_ring_capacity) {
    throw std::invalid_argument(fmt::format(
        "--pipeline {} × --payload {}: cluster '{}' has {}-byte client rings, {} needed (start it with "
        "`shmraft up --client-ring {}`)",
        config.pipeline, config.payload_bytes, name, segment.config().client_ring_capacity, needed, needed));
  }
  return config;
}

client::TransportKind client_transport(const BenchConfig& config) noexcept {
  return config.transport == "tcp" ? client::TransportKind::tcp : client::TransportKind::shm;
}

}  // namespace shmraft::bench
