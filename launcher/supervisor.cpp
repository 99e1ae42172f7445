#include "launcher/supervisor.h"

#include <signal.h>

#include "ipc/layout.h"
#include "launcher/launcher_error.h"

namespace shmraft::launcher {

Supervisor::Supervisor(uint32_t nodes, LaunchFor launch_for)
    : launch_for_(std::move(launch_for)), pids_(nodes, 0) {}

Supervisor::~Supervisor() {
  for (uint32_t node = 1; node <= nodes(); ++node) kill(node);
}

void Supervisor::check_node(uint32_t node) const {
  if (node < 1 || node > nodes()) {
    throw LauncherError("node id " + std::to_string(node) + " out of range 1.." + std::to_string(nodes()));
  }
}

bool Supervisor::running(uint32_t node) const {
  return pid(node) != 0;
}

pid_t Supervisor::pid(uint32_t node) const {
  check_node(node);
  return pids_[ipc::slot_of(node)];
}

std::vector<uint32_t> Supervisor::running_nodes() const {
  std::vector<uint32_t> result;
  for (uint32_t node = 1; node <= nodes(); ++node) {
    if (pids_[ipc::slot_of(node)] != 0) result.push_back(node);
  }
  return result;
}

pid_t Supervisor::start(uint32_t node, StartPlacement placement, const std::vector<pid_t>& clients) {
  check_node(node);
  if (pids_[ipc::slot_of(node)] != 0)
    throw LauncherError("node " + std::to_string(node) + " is already running");
  end_start_isolation();
  const Launch launch = launch_for_(node);
  if (placement == StartPlacement::own_cpu) {
    // Of a node, only the loop (its main thread) is on the commit path; of a client, every thread.
    std::vector<RunningProcess> running;
    for (const pid_t pid : pids_)
      if (pid != 0) running.push_back({pid, CommitPath::main_thread});
    for (const pid_t pid : clients) running.push_back({pid, CommitPath::every_thread});
    isolation_ = std::make_unique<StartIsolation>(running);
    if (const std::optional<int> cpu = isolation_->isolated_cpu()) {
      isolated_ = IsolatedStart{node, *cpu};
    } else {
      isolation_.reset();  // fewer than 2 CPUs: nothing was moved
    }
  }
  pid_t pid = 0;
  try {
    pid = spawn_child(launch.argv, launch.output);
  } catch (...) {
    end_start_isolation();
    throw;
  }
  pids_[ipc::slot_of(node)] = pid;
  if (isolation_) isolation_->spawned(pid);
  return pid;
}

void Supervisor::end_start_isolation() {
  isolation_.reset();
  isolated_.reset();
}

void Supervisor::ended(uint32_t node) {
  pids_[ipc::slot_of(node)] = 0;
  if (isolated_ && isolated_->node == node) end_start_isolation();
}

bool Supervisor::kill(uint32_t node) {
  check_node(node);
  const pid_t pid = pids_[ipc::slot_of(node)];
  if (pid == 0) return false;
  ::kill(pid, SIGKILL);
  wait_for_exit(pid, std::chrono::hours(1));
  ended(node);
  return true;
}

bool Supervisor::stop(uint32_t node, std::chrono::milliseconds grace) {
  check_node(node);
  const pid_t pid = pids_[ipc::slot_of(node)];
  if (pid == 0) return false;
  stop_child(pid, grace);
  ended(node);
  return true;
}

std::vector<std::pair<uint32_t, ExitStatus>> Supervisor::stop_all(std::chrono::milliseconds grace) {
  end_start_isolation();
  for (pid_t pid : pids_) {
    if (pid != 0) ::kill(pid, SIGTERM);
  }
  std::vector<std::pair<uint32_t, ExitStatus>> ended;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (uint32_t node = 1; node <= nodes(); ++node) {
    pid_t& pid = pids_[ipc::slot_of(node)];
    if (pid == 0) continue;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto status = wait_for_exit(pid, std::max(left, std::chrono::milliseconds(0)));
    if (!status) {
      ::kill(pid, SIGKILL);
      status = wait_for_exit(pid, std::chrono::hours(1));
    }
    ended.emplace_back(node, *status);
    pid = 0;
  }
  return ended;
}

std::vector<std::pair<uint32_t, ExitStatus>> Supervisor::reap_exited() {
  std::vector<std::pair<uint32_t, ExitStatus>> exited;
  for (uint32_t node = 1; node <= nodes(); ++node) {
    if (pids_[ipc::slot_of(node)] == 0) continue;
    if (auto status = try_reap(pids_[ipc::slot_of(node)])) {
      exited.emplace_back(node, *status);
      ended(node);
    }
  }
  return exited;
}

}  // namespace shmraft::launcher
