#include "tests/cluster/harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "launcher/child_process.h"
#include "launcher/cluster_setup.h"

namespace shmraft::cluster_test {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const fs::path kDataBase = "/tmp/shmraft";  // where each TestCluster's data directory goes

// Streams the parts into one string (GCC 12 warns falsely, -Wrestrict, on `"literal" + std::string&&`).
template <class... Parts>
std::string text(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

}  // namespace

std::string CommandResult::describe() const {
  std::ostringstream out;
  out << "exit " << exit_code << "\n--- stdout ---\n" << this->out << "--- stderr ---\n" << err;
  return out.str();
}

CommandResult run_shmraft(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                          const fs::path& input) {
  std::vector<std::string> argv{SHMRAFT_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (auto& arg : argv) raw.push_back(arg.data());
  raw.push_back(nullptr);
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  const int input_fd = input.empty() ? -1 : open(input.c_str(), O_RDONLY | O_CLOEXEC);
  if (!input.empty() && input_fd < 0) throw std::runtime_error(text("cannot open ", input));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    if (input_fd >= 0) dup2(input_fd, STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    execv(raw[0], raw.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (input_fd >= 0) close(input_fd);
  CommandResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  const auto deadline = Clock::now() + scaled(timeout);
  bool timed_out = false;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left)) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (timed_out) kill(pid, SIGKILL);
  for (auto& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) && !timed_out ? WEXITSTATUS(status) : -1;
  if (timed_out) result.err += text("\n[harness: killed after ", scaled(timeout).count(), " ms]\n");
  return result;
}

std::string unique_cluster_name(const std::string& label) {
  return launcher::unused_cluster_name("t-" + label, kDataBase);
}

std::size_t line_count(const std::string& text) {
  std::size_t lines = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines += !line.empty();
  return lines;
}

bool process_alive(pid_t pid) {
  return launcher::process_exists(pid);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool segment_exists(const std::string& cluster) {
  return fs::exists(fs::path("/dev/shm") / ("shmraft." + cluster));
}

ScopedClusterFiles::~ScopedClusterFiles() {
  if (process != 0) launcher::stop_child(process, std::chrono::seconds(10));
  std::error_code ec;
  if (!cluster.empty()) fs::remove(fs::path("/dev/shm") / ("shmraft." + cluster), ec);
  if (!root.empty()) {
    fs::remove_all(root, ec);
    fs::remove(root.string() + ".log", ec);
  }
}

TestCluster::TestCluster(const std::string& label, Options options)
    : name_(unique_cluster_name(label)), options_(std::move(options)), data_root_(kDataBase / name_) {
  fs::create_directories(data_root_);
  supervisor_log_ = data_root_ / "up.log";
  std::vector<std::string> argv{
      SHMRAFT_BINARY,     "up", "-c", name_, "-n", std::to_string(options_.nodes), "--data-dir",
      data_root_.string()};
  argv.insert(argv.end(), options_.up_args.begin(), options_.up_args.end());
  if (!options_.node_args.empty()) {
    argv.push_back("--");
    argv.insert(argv.end(), options_.node_args.begin(), options_.node_args.end());
  }
  started_at_ = Clock::now();
  supervisor_ = launcher::spawn_child(argv, supervisor_log_);
  // Up when every node has registered its pid in the segment.
  const auto deadline = Clock::now() + scaled(std::chrono::seconds(15));
  while (true) {
    const CommandResult r = run("status", {"--once", "--json"});
    if (r.exit_code == 0) {
      const auto status = nlohmann::json::parse(r.out);
      bool all_alive = true;
      for (const auto& node : status["nodes"]) all_alive = all_alive && node["alive"].get<bool>();
      if (all_alive) break;
    }
    if (Clock::now() > deadline || launcher::try_reap(supervisor_)) {
      const std::string output = supervisor_output();
      throw std::runtime_error(text("cluster ", name_, " did not come up; supervisor output:\n", output));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

TestCluster::~TestCluster() {
  if (supervisor_ != 0) launcher::stop_child(supervisor_, std::chrono::seconds(10));
  std::error_code ec;
  fs::remove(fs::path("/dev/shm") / ("shmraft." + name_), ec);
  fs::remove_all(data_root_, ec);
}

CommandResult TestCluster::run(const std::string& command, const std::vector<std::string>& args,
                               std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv{command, "-c", name_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_shmraft(argv, timeout);
}

nlohmann::json TestCluster::status() const {
  const CommandResult r = run("status", {"--once", "--json"});
  if (r.exit_code != 0) throw std::runtime_error(text("status failed: ", r.describe()));
  return nlohmann::json::parse(r.out);
}

nlohmann::json node_in(const nlohmann::json& status, uint32_t node) {
  for (const auto& entry : status["nodes"])
    if (entry["node"].get<uint32_t>() == node) return entry;
  throw std::runtime_error(
      text("status of cluster ", status["cluster"].get<std::string>(), " has no node ", node));
}

nlohmann::json TestCluster::status_of(uint32_t node) const {
  return node_in(status(), node);
}

pid_t TestCluster::node_pid(uint32_t node) const {
  const nlohmann::json entry = status_of(node);
  return entry["alive"].get<bool>() ? entry["pid"].get<pid_t>() : 0;
}

std::optional<uint32_t> leader_in(const nlohmann::json& status) {
  std::optional<uint32_t> leader;
  uint64_t term = 0;
  for (const auto& node : status["nodes"]) {
    if (!node["alive"].get<bool>() || node["role"] != "leader") continue;
    if (!leader || node["term"].get<uint64_t>() > term) {
      leader = node["node"].get<uint32_t>();
      term = node["term"].get<uint64_t>();
    }
  }
  return leader;
}

std::optional<uint32_t> TestCluster::leader() const {
  return leader_in(status());
}

uint32_t TestCluster::wait_for_leader(std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + scaled(timeout);
  while (Clock::now() < deadline) {
    if (const auto l = leader()) return *l;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error(
      text("no leader in cluster ", name_, " within ", scaled(timeout).count(), " ms:\n", status().dump(1)));
}

uint64_t TestCluster::max_term() const {
  uint64_t term = 0;
  for (const auto& node : status_nodes()) {
    if (node["alive"].get<bool>()) term = std::max(term, node["term"].get<uint64_t>());
  }
  return term;
}

std::vector<pid_t> TestCluster::node_pids() const {
  std::vector<pid_t> pids;
  for (const auto& node : status_nodes())
    pids.push_back(node["alive"].get<bool>() ? node["pid"].get<pid_t>() : 0);
  return pids;
}

uint64_t TestCluster::wait_for_catch_up(std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + scaled(timeout);
  // The highest commit index of the first status that names a leader: a new leader may not know yet what
  // its predecessor committed, a follower that heard it does.
  std::optional<uint64_t> target;
  nlohmann::json last;
  while (Clock::now() < deadline) {
    last = status();
    if (!target && leader_in(last)) {
      target = 0;
      for (const auto& node : last["nodes"]) {
        if (node["alive"].get<bool>()) target = std::max(*target, node["commit"].get<uint64_t>());
      }
    }
    bool caught_up = target.has_value();
    for (const auto& node : last["nodes"]) {
      caught_up = caught_up && node["alive"].get<bool>() && node["applied"].get<uint64_t>() >= *target;
    }
    if (caught_up) return *target;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error(text("cluster ", name_, " did not catch up to commit index ",
                                target ? std::to_string(*target) : "(no leader)", " within ",
                                scaled(timeout).count(), " ms:\n", last.dump(1)));
}

CommandResult TestCluster::kv(const std::vector<std::string>& args, std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv{"kv", "-c", name_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_shmraft(argv, timeout);
}

std::string TestCluster::supervisor_output() const {
  return read_file(supervisor_log_);
}

CommandResult TestCluster::down() {
  CommandResult r = run("down");
  if (r.exit_code == 0 && launcher::wait_for_exit(supervisor_, std::chrono::seconds(10))) supervisor_ = 0;
  return r;
}

}  // namespace shmraft::cluster_test
