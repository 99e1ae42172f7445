#include "launcher/live_cluster.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "launcher/child_process.h"
#include "launcher/cluster_dirs.h"
#include "launcher/launcher_error.h"
#include "launcher/node_launch.h"

namespace shmraft::launcher {

LiveCluster LiveCluster::attach(const std::string& cluster) {
  const ipc::SegmentStatus status = ipc::Segment::inspect(cluster);
  switch (status.state) {
    case ipc::SegmentState::missing:
      throw LauncherError("no cluster '" + cluster + "' is running (no segment /dev/shm/" +
                          ipc::Segment::object_name(cluster) + ")");
    case ipc::SegmentState::stale:
      throw LauncherError("cluster '" + cluster + "' is not running: its segment is stale (" + status.detail +
                          "); `shmraft clean` removes it");
    case ipc::SegmentState::incompatible:
      throw LauncherError("/dev/shm/" + ipc::Segment::object_name(cluster) +
                          " is not a segment this shmraft can use: " + status.detail);
    case ipc::SegmentState::live:
      break;
  }
  try {
    LiveCluster live(ipc::Segment::attach(cluster));
    // Nodes die with their supervisor (PDEATHSIG); until they are reaped the segment may still look live.
    if (live.supervisor_pid() == 0) {
      throw LauncherError("cluster '" + cluster + "' is not running: its supervisor (pid " +
                          std::to_string(live.segment().header().creator_pid) +
                          ") is gone; `shmraft clean` removes what it left");
    }
    return live;
  } catch (const ipc::SegmentError& e) {
    throw LauncherError(e.what());
  }
}

void LiveCluster::check_node(uint32_t node) const {
  // A node added later (`shmraft member add`) has claimed its liveness cells at least once.
  const bool joined =
      node > node_count() && node <= segment_.max_nodes() && segment_.peer_alive(node).incarnation != 0;
  if ((node < 1 || node > node_count()) && !joined) {
    throw UsageError("node id " + std::to_string(node) + " out of range 1.." + std::to_string(node_count()) +
                     ": cluster '" + name() + "' has " + std::to_string(node_count()) +
                     " nodes (and room for " + std::to_string(segment_.max_nodes()) +
                     ": `shmraft member add` adds one)");
  }
}

pid_t LiveCluster::supervisor_pid() const {
  const pid_t pid = segment_.header().creator_pid;
  if (!process_exists(pid)) return 0;
  // A recycled pid must not be taken for the supervisor: it has to be this program.
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  return !ec && exe.filename() == self_executable().filename() ? pid : 0;
}

pid_t LiveCluster::node_pid(uint32_t node) const {
  if (node < 1 || node > segment_.max_nodes()) return 0;  // callers name the range (check_node)
  const auto pid = static_cast<pid_t>(segment_.node_counters(node).snapshot().pid);
  return process_exists(pid) && is_node_process(pid, name(), node) ? pid : 0;
}

namespace {

std::vector<std::string> command_line(pid_t pid) {
  const std::string raw = read_proc_file(pid, "cmdline");
  std::vector<std::string> args;
  std::string current;
  for (char c : raw) {
    if (c == '\0') {
      args.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  return args;
}

}  // namespace

std::filesystem::path LiveCluster::supervisor_data_root() const {
  const pid_t pid = supervisor_pid();
  if (pid == 0) return {};
  const std::vector<std::string> args = command_line(pid);
  std::filesystem::path root;
  for (std::size_t i = 2; i < args.size() && args[i] != "--"; ++i) {
    const std::string& arg = args[i];
    if ((arg == "-d" || arg == "--data-dir") && i + 1 < args.size()) {
      root = args[++i];
    } else if (arg.rfind("--data-dir=", 0) == 0) {
      root = arg.substr(11);
    } else if (arg.rfind("-d", 0) == 0 && arg.size() > 2 && arg[2] != '-') {
      root = arg.substr(2);
    }
  }
  if (root.empty()) return ClusterDirs(name(), {}).root();
  if (root.is_relative()) {
    std::error_code ec;
    root = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/cwd", ec) / root;
  }
  return root;
}

bool LiveCluster::supervisor_runs_node(uint32_t node) const {
  const pid_t supervisor = supervisor_pid();
  if (supervisor == 0) return false;
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(supervisor) + "/task", ec)) {
    std::ifstream children(task.path() / "children");
    for (pid_t child = 0; children >> child;) {
      if (is_node_process(child, name(), node)) return true;
    }
  }
  return false;
}

void LiveCluster::ask_supervisor(SupervisorRequest request, uint32_t node) const {
  const pid_t supervisor = supervisor_pid();
  if (supervisor == 0)
    throw LauncherError("cluster '" + name() + "' has no supervisor to start or stop nodes");
  if (const std::string owner = supervisor_command(); owner != "up") {
    throw LauncherError("cluster '" + name() + "' is run by `shmraft " + owner + "` (pid " +
                        std::to_string(supervisor) + "), which starts and stops its nodes itself");
  }
  sigval value{};
  value.sival_int = encode_request(request, node);
  if (::sigqueue(supervisor, supervisor_request_signal(), value) != 0)
    throw LauncherError("cannot signal the supervisor (pid " + std::to_string(supervisor) + ")");
}

pid_t LiveCluster::await_start(uint32_t node, pid_t old_pid, const OutputMark& output,
                               std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t pid = node_pid(node);
    if (pid != 0 && pid != old_pid) return pid;
    // A node that failed at once has said why in its output and is no longer among the supervisor's
    // children: report that now rather than wait out the timeout.
    if (output.grew() && !supervisor_runs_node(node) && node_pid(node) == 0) {
      throw LauncherError("node " + std::to_string(node) + " failed to start: " + output.first_lines() +
                          " (see " + output.path().string() + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  throw LauncherError("node " + std::to_string(node) + " did not come back within " +
                      std::to_string(timeout.count()) + " ms; see " + output.path().string());
}

std::string LiveCluster::supervisor_command() const {
  const pid_t pid = supervisor_pid();
  if (pid == 0) return {};
  const std::vector<std::string> args = command_line(pid);
  return args.size() > 1 ? args[1] : std::string();
}

bool is_node_process(pid_t pid, const std::string& cluster, uint32_t node) {
  return is_node_command_line(command_line(pid), cluster, node);
}

int supervisor_request_signal() {
  return SIGRTMIN;
}

int encode_request(SupervisorRequest request, uint32_t node) {
  return static_cast<int>((static_cast<uint32_t>(request) << 16) | (node & 0xffff));
}

void decode_request(int value, SupervisorRequest& request, uint32_t& node) {
  request = static_cast<SupervisorRequest>(static_cast<uint32_t>(value) >> 16);
  node = static_cast<uint32_t>(value) & 0xffff;
}

}  // namespace shmraft::launcher
