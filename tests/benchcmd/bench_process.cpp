#include "tests/benchcmd/bench_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "launcher/cluster_dirs.h"

namespace shmraft::benchcmd_test {

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// argv of a live process, NUL-separated in /proc; empty for a zombie or a vanished pid.
std::vector<std::string> command_line(const fs::path& proc_dir) {
  const std::string raw = read_file(proc_dir / "cmdline");
  std::vector<std::string> args;
  std::string arg;
  for (char ch : raw) {
    if (ch == '\0') {
      args.push_back(arg);
      arg.clear();
    } else {
      arg += ch;
    }
  }
  return args;
}

}  // namespace

std::string BenchOutput::describe() const {
  return "exit " + std::to_string(exit_code) + "\n--- stdout ---\n" + out + "--- stderr ---\n" + err;
}

BenchProcess::BenchProcess(const std::vector<std::string>& args) {
  char dir_template[] = "/tmp/benchcmd-test-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = dir_template;
  std::vector<std::string> argv{SHMRAFT_BINARY, "bench"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (std::string& arg : argv) raw.push_back(arg.data());
  raw.push_back(nullptr);
  const std::string out = (dir_ / "out").string(), err = (dir_ / "err").string();
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  launched_ = pid_;
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    const int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err_fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out_fd < 0 || err_fd < 0) _exit(125);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    execv(raw[0], raw.data());
    _exit(127);
  }
}

BenchProcess::~BenchProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

void BenchProcess::signal(int signo) const {
  if (pid_ > 0) kill(pid_, signo);
}

std::string BenchProcess::stderr_so_far() const {
  return read_file(dir_ / "err");
}

BenchOutput BenchProcess::wait(std::chrono::milliseconds timeout) {
  BenchOutput result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (pid_ > 0) {
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      pid_ = 0;
    } else if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = 0;
      result.err = "[test: killed after " + std::to_string(timeout.count()) + " ms]\n";
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  result.out = read_file(dir_ / "out");
  result.err += read_file(dir_ / "err");
  return result;
}

BenchOutput run_bench(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  BenchProcess bench(args);
  return bench.wait(timeout);
}

std::vector<std::string> leftovers_of(const BenchProcess& bench) {
  const std::string prefix = "bench-" + std::to_string(bench.pid()) + "-";
  // File times lag the clock by up to a tick: a second of slack, far less than a pid takes to come round.
  const fs::file_time_type since = bench.started() - std::chrono::seconds(1);
  const auto made_since_start = [&](const fs::directory_entry& entry) {
    std::error_code ec;
    const fs::file_time_type written = entry.last_write_time(ec);
    return !ec && written >= since;
  };
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/dev/shm", ec)) {
    if (entry.path().filename().string().starts_with("shmraft." + prefix) && made_since_start(entry))
      found.push_back("segment " + entry.path().string());
  }
  for (const auto& entry : fs::directory_iterator(launcher::default_data_base(), ec)) {
    if (entry.path().filename().string().starts_with(prefix) && made_since_start(entry))
      found.push_back("data " + entry.path().string());
  }
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    for (const std::string& arg : command_line(entry.path())) {
      if (arg.starts_with(prefix)) {
        found.push_back("process " + entry.path().filename().string() + " (" + arg + ")");
        break;
      }
    }
  }
  return found;
}

}  // namespace shmraft::benchcmd_test
