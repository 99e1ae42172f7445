#pragma once
// A cluster of real node processes for tests: creates the segment, forks each node (the child calls
// shmraft::node::run, exactly what `shmraft node` does), kills and restarts them, and cleans up.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ipc/segment.h"
#include "launcher/client/client_types.h"
#include "node/process/node_options.h"

namespace shmraft::node::testing {

class TestCluster {
 public:
  // A fresh segment named after the test and the pid, and data directories under a temporary root.
  // Nodes are numbered 1..nodes, as everywhere.
  TestCluster(uint32_t nodes, const std::string& name, ipc::SegmentConfig config = {});
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  const std::string& name() const noexcept { return name_; }
  ipc::Segment& segment() noexcept { return segment_; }
  uint32_t nodes() const noexcept { return static_cast<uint32_t>(pids_.size()); }
  NodeOptions& options(uint32_t node) { return options_[ipc::slot_of(node)]; }
  std::filesystem::path data_dir(uint32_t node) const { return options_[ipc::slot_of(node)].data_dir; }

  void start(uint32_t node);
  void start_all();
  void kill(uint32_t node);  // SIGKILL, reaped
  int stop(uint32_t node);   // SIGTERM; returns the exit code
  bool running(uint32_t node) const { return pids_[ipc::slot_of(node)] != 0; }

  // The node that the live nodes' counters agree leads the highest term, once one does; nullopt after
  // `timeout`.
  std::optional<uint32_t> wait_for_leader(std::chrono::milliseconds timeout,
                                          std::optional<uint32_t> excluding = std::nullopt);
  // Waits until every running node applied at least `index`.
  bool wait_for_applied(uint64_t index, std::chrono::milliseconds timeout);
  // Client options for tests: timeouts generous enough that a starved machine yields slow answers, not
  // unknown outcomes.
  static client::ClientOptions client_options();
  // The node's log file, for failure messages.
  std::string log_tail(uint32_t node, std::size_t lines = 20) const;

 private:
  std::string name_;
  std::filesystem::path root_;
  ipc::Segment segment_;
  std::vector<NodeOptions> options_;  // by slot (ipc::slot_of of the node id)
  std::vector<pid_t> pids_;           // by slot
};

}  // namespace shmraft::node::testing
