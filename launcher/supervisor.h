#pragma once
// Starts, watches, kills and restarts the node processes of one cluster. Used by `shmraft up` (driven
// by signals from other shells) and by `shmraft chaos` (driven by its nemesis). Not thread-safe: one
// thread owns it — the thread that forks, because PR_SET_PDEATHSIG fires when that THREAD exits.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "launcher/child_process.h"
#include "launcher/start_isolation.h"

namespace shmraft::launcher {

enum class StartPlacement { shared, own_cpu };

class Supervisor {
 public:
  struct Launch {
    std::vector<std::string> argv;  // argv[0] is the executable
    std::filesystem::path output;   // stdout/stderr of the process
  };
  using LaunchFor = std::function<Launch(uint32_t node)>;

  Supervisor(uint32_t nodes, LaunchFor launch_for);
  // Kills every node still running (SIGKILL): the orderly path is stop_all().
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  uint32_t nodes() const noexcept { return static_cast<uint32_t>(pids_.size()); }
  bool running(uint32_t node) const;
  pid_t pid(uint32_t node) const;  // 0 when not running
  std::vector<uint32_t> running_nodes() const;

  // Starts `node`; throws LauncherError if it is running already. With StartPlacement::own_cpu it
  // starts on a CPU of its own (start_isolation.h): the running nodes' loops and every thread of
  // `clients` keep the other CPUs until end_start_isolation(), which the owner calls once the node
  // serves. Ending a node, or starting another, ends an isolation first.
  pid_t start(uint32_t node, StartPlacement placement = StartPlacement::shared,
              const std::vector<pid_t>& clients = {});
  // The start that holds a CPU of its own, if one does (none where fewer than 2 CPUs are allowed).
  struct IsolatedStart {
    uint32_t node;
    int cpu;
  };
  std::optional<IsolatedStart> isolated_start() const noexcept { return isolated_; }
  void end_start_isolation();
  // SIGKILL and reap; false if it was not running.
  bool kill(uint32_t node);
  // SIGTERM, SIGKILL after `grace`; false if it was not running.
  bool stop(uint32_t node, std::chrono::milliseconds grace);
  // SIGTERM to all at once, then waits up to `grace` for each before SIGKILL. Returns how each node that
  // was running ended (an orderly node exits 0; anything else is worth reporting).
  std::vector<std::pair<uint32_t, ExitStatus>> stop_all(std::chrono::milliseconds grace);

  // Reaps nodes that exited on their own since the last call: (node, how it ended).
  std::vector<std::pair<uint32_t, ExitStatus>> reap_exited();

 private:
  void check_node(uint32_t node) const;
  void ended(uint32_t node);  // its process is gone

  LaunchFor launch_for_;
  std::vector<pid_t> pids_;  // by slot (ipc::slot_of of the node id)
  std::unique_ptr<StartIsolation> isolation_;
  std::optional<IsolatedStart> isolated_;
};

}  // namespace shmraft::launcher
