#pragma once
// Runs the real `shmraft` binary (path compiled in as SHMRAFT_BINARY) the way a user would, and keeps
// every cluster a test starts under a unique name (label + pid + counter) that is stopped and removed
// when the TestCluster goes out of scope — also when the test failed half-way.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace shmraft::cluster_test {

struct CommandResult {
  int exit_code = -1;  // -1: killed (signal or timeout)
  std::string out;
  std::string err;
  std::string describe() const;  // exit code and both streams, for failure messages
};

// Runs `shmraft <args...>` to completion; after scaled(`timeout`) it is SIGKILLed and exit_code is -1. Its
// stdin is the file `input` (empty path: none).
CommandResult run_shmraft(const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30),
                          const std::filesystem::path& input = {});

// A name no other test (or concurrent test binary) uses, nor anything an earlier run left behind:
// "t-<label>-<pid>-<n>".
std::string unique_cluster_name(const std::string& label);

// Number of lines of `text` (stderr checks: "one clear line").
std::size_t line_count(const std::string& text);

#ifndef SHMRAFT_TEST_SLOWDOWN
#define SHMRAFT_TEST_SLOWDOWN 1  // release; a sanitizer build defines it (tests/CMakeLists.txt)
#endif

// A wait of `timeout` in a release build, stretched by the build's slowdown (tests/CMakeLists.txt: 3 under
// ASan+UBSan, 10 under TSan). Every wait in the harness goes through it: a wait bounds how long a test
// looks for its condition, never how fast the cluster must be.
constexpr std::chrono::milliseconds scaled(std::chrono::milliseconds timeout) {
  return timeout * SHMRAFT_TEST_SLOWDOWN;
}

// Polls `done` every 10 ms until it returns true or scaled(`timeout`) passes; returns its last answer.
template <class Predicate>
bool eventually(Predicate&& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// True while a process with this pid exists and is not a zombie.
bool process_alive(pid_t pid);
// The whole file ("" if it cannot be read).
std::string read_file(const std::filesystem::path& path);
// True if the cluster's shared-memory object exists.
bool segment_exists(const std::string& cluster);

// For tests that start a cluster without TestCluster: at scope exit stops `process` (if set), then
// removes the cluster's segment and `root` (and "<root>.log"), whatever the test's outcome.
struct ScopedClusterFiles {
  std::string cluster;
  std::filesystem::path root;
  pid_t process = 0;
  ~ScopedClusterFiles();
};

// The entry of node `node` (an id, 1..N) in a `status --json`; throws if it has none.
nlohmann::json node_in(const nlohmann::json& status, uint32_t node);
// The leader a `status --json` names (a live node in role "leader", highest term), if any.
std::optional<uint32_t> leader_in(const nlohmann::json& status);

class TestCluster {
 public:
  struct Options {
    uint32_t nodes = 3;
    std::vector<std::string> up_args;    // extra flags for `shmraft up`
    std::vector<std::string> node_args;  // flags after `--`, for every node
  };

  TestCluster(const std::string& label, Options options);
  explicit TestCluster(const std::string& label) : TestCluster(label, Options{}) {}
  // Stops the supervisor (SIGTERM, SIGKILL after a grace period), then removes data and segment.
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  const std::string& name() const noexcept { return name_; }
  const std::filesystem::path& data_root() const noexcept { return data_root_; }
  pid_t supervisor_pid() const noexcept { return supervisor_; }
  // When `shmraft up` was spawned.
  std::chrono::steady_clock::time_point started_at() const noexcept { return started_at_; }
  uint32_t nodes() const noexcept { return options_.nodes; }

  // `shmraft <command> -c <name> <args...>`.
  CommandResult run(const std::string& command, const std::vector<std::string>& args = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

  // `status --once --json`, parsed; throws with the command's output if it fails.
  nlohmann::json status() const;
  // Its "nodes" array, by value (a range-for over status()["nodes"] would read a destroyed temporary).
  nlohmann::json status_nodes() const { return status()["nodes"]; }
  // node_in(status(), node).
  nlohmann::json status_of(uint32_t node) const;
  // leader_in(status()).
  std::optional<uint32_t> leader() const;
  uint32_t wait_for_leader(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // Max term among live nodes.
  uint64_t max_term() const;
  // The pid of every node from `status` (0 for a node that is not alive).
  std::vector<pid_t> node_pids() const;
  // The pid of node `node` (an id, 1..N) from `status`, 0 when it is not alive.
  pid_t node_pid(uint32_t node) const;
  // Once a leader is named, takes the highest commit index of that one `status` as the target and waits
  // until every node is alive and has applied at least that much; returns the target. (Under a writing
  // client the index moves on while the nodes are read: every node at exactly the leader's index in one
  // `status` may never happen.)
  uint64_t wait_for_catch_up(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // `kv put` etc.; ASSERT-style helpers live in the tests.
  CommandResult kv(const std::vector<std::string>& args,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

  // Supervisor output so far (its stdout and stderr go to a file under the data root).
  std::string supervisor_output() const;

  // Stops the cluster with `shmraft down`; returns its result. The destructor then has nothing to do.
  CommandResult down();

 private:
  std::string name_;
  Options options_;
  std::filesystem::path data_root_;
  std::filesystem::path supervisor_log_;
  pid_t supervisor_ = 0;
  std::chrono::steady_clock::time_point started_at_;
};

}  // namespace shmraft::cluster_test
