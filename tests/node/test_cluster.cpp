#include "tests/node/test_cluster.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "node/process/node.h"
#include "node/process/node_process.h"
#include "node/storage/file.h"

namespace shmraft::node::testing {

TestCluster::TestCluster(uint32_t nodes, const std::string& name, ipc::SegmentConfig config)
    : name_(name + "-" + std::to_string(getpid())),
      root_(std::filesystem::temp_directory_path() / ("shmraft-test-" + name_)),
      segment_([&] {
        config.node_count = nodes;
        ipc::Segment::destroy(name_);  // a leftover of a crashed earlier run with this pid
        return ipc::Segment::create(name_, config);
      }()),
      options_(nodes),
      pids_(nodes, 0) {
  std::filesystem::remove_all(root_);
  std::filesystem::create_directories(root_);
  for (uint32_t i = 1; i <= nodes; ++i) {
    NodeOptions& o = options_[ipc::slot_of(i)];
    o.cluster = name_;
    o.node = i;
    o.data_dir = root_ / ("node" + std::to_string(i));
    o.fsync = storage::Durability::none;
    // The default timing (elections after 150-300 ms): shorter timeouts make a loaded machine (ctest -j2
    // beside other builds) starve nodes into needless elections.
    o.segment_bytes = 1 << 20;
    o.seed = 1000 + i;
    o.check_invariants = true;  // as in the simulator: a broken node-local invariant stops the node
  }
}

TestCluster::~TestCluster() {
  for (uint32_t i = 1; i <= nodes(); ++i)
    if (running(i)) kill(i);
  ipc::Segment::destroy(name_);
  std::error_code ignored;
  std::filesystem::remove_all(root_, ignored);
}

void TestCluster::start(uint32_t node) {
  if (running(node)) throw std::logic_error("node " + std::to_string(node) + " is already running");
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
    if (getppid() != parent) _exit(3);
    _exit(run(options_[ipc::slot_of(node)]));
  }
  pids_[ipc::slot_of(node)] = pid;
}

void TestCluster::start_all() {
  for (uint32_t i = 1; i <= nodes(); ++i) start(i);
}

void TestCluster::kill(uint32_t node) {
  if (!running(node)) return;
  ::kill(pids_[ipc::slot_of(node)], SIGKILL);
  waitpid(pids_[ipc::slot_of(node)], nullptr, 0);
  pids_[ipc::slot_of(node)] = 0;
  // Its snapshot child dies with it, a moment later, and may hold the directory's lock until then
  // (inherited, until it closes it): the directory is the test's to open once the lock is free.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::filesystem::exists(data_dir(node))) {
    try {
      const storage::DirectoryLock free(data_dir(node));
      return;
    } catch (const storage::StorageError& e) {
      if (std::string(e.what()).find("flock is held") == std::string::npos ||
          std::chrono::steady_clock::now() >= deadline)
        return;  // not a lock held: whoever opens the directory next says what is wrong
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int TestCluster::stop(uint32_t node) {
  if (!running(node)) return -1;
  ::kill(pids_[ipc::slot_of(node)], SIGTERM);
  int status = 0;
  waitpid(pids_[ipc::slot_of(node)], &status, 0);
  pids_[ipc::slot_of(node)] = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::optional<uint32_t> TestCluster::wait_for_leader(std::chrono::milliseconds timeout,
                                                     std::optional<uint32_t> excluding) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::optional<uint32_t> leader;
    uint64_t best_term = 0;
    for (uint32_t i = 1; i <= nodes(); ++i) {
      if (!running(i) || (excluding && *excluding == i)) continue;
      const ipc::NodeCountersSnapshot c = segment_.node_counters(i).snapshot();
      if (c.role == kRoleLeader && c.term >= best_term) {
        best_term = c.term;
        leader = i;
      }
    }
    if (leader) {
      // Every live node must follow it in that term (no stale leader in an older term).
      bool agreed = true;
      for (uint32_t i = 1; i <= nodes(); ++i) {
        if (!running(i) || (excluding && *excluding == i)) continue;
        const ipc::NodeCountersSnapshot c = segment_.node_counters(i).snapshot();
        agreed = agreed && c.term == best_term && c.leader == *leader;
      }
      if (agreed) return leader;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;
}

bool TestCluster::wait_for_applied(uint64_t index, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bool all = true;
    for (uint32_t i = 1; i <= nodes(); ++i)
      if (running(i)) all = all && segment_.node_counters(i).snapshot().applied_index >= index;
    if (all) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

client::ClientOptions TestCluster::client_options() {
  client::ClientOptions options;
  options.operation_timeout = std::chrono::seconds(30);
  return options;
}

std::string TestCluster::log_tail(uint32_t node, std::size_t lines) const {
  std::ifstream in(options_[ipc::slot_of(node)].effective_log_file());
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  std::string text = "--- node" + std::to_string(node) + ".log ---\n";
  for (const std::string& line : tail) text += line + "\n";
  return text;
}

}  // namespace shmraft::node::testing
