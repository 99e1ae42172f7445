#include "launcher/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <system_error>
#include <thread>

#include "launcher/private_dir.h"

namespace shmraft::launcher {

std::string ExitStatus::describe() const {
  if (signal != 0) {
    const char* name = sigabbrev_np(signal);
    return std::string("killed by SIG") + (name != nullptr ? name : std::to_string(signal));
  }
  return "exit " + std::to_string(code);
}

const std::filesystem::path& self_executable() {
  static const std::filesystem::path path = std::filesystem::read_symlink("/proc/self/exe");
  return path;
}

namespace {

ExitStatus decode(int status) {
  ExitStatus result;
  if (WIFEXITED(status)) result.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

// The spawning process's pid, in the child's environment: what adopt_spawning_parent() checks.
constexpr std::string_view kParentVariable = "SHMRAFT_SPAWNED_BY";

// This process's environment without kParentVariable, plus kParentVariable=<our pid>.
std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (!(text.starts_with(kParentVariable) && text.size() > kParentVariable.size() &&
          text[kParentVariable.size()] == '='))
      env.emplace_back(text);
  }
  env.push_back(std::string(kParentVariable) + "=" + std::to_string(getpid()));
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> raw;
  raw.reserve(strings.size() + 1);
  for (std::string& text : strings) raw.push_back(text.data());
  raw.push_back(nullptr);
  return raw;
}

}  // namespace

pid_t spawn_child(const std::vector<std::string>& argv, const std::filesystem::path& output) {
  if (argv.empty()) throw std::invalid_argument("spawn_child: empty argv");
  std::vector<std::string> args = argv;
  std::vector<std::string> env = child_environment();
  const std::vector<char*> raw_args = pointers(args);
  const std::vector<char*> raw_env = pointers(env);
  const int output_fd =
      PrivateDir::open(output.parent_path()).open_file(output.filename().string(), O_WRONLY | O_APPEND);

  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&files, output_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&files, output_fd, STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  // A process group of its own, out of the terminal's reach (its Ctrl-C and hang-up go to the foreground
  // group), but not a session of its own: a new session is a new scheduler autogroup, and autogroups are
  // weighed against each other — beside another session's work, a node alone in one made the 1-client
  // p99 2.75 ms against 208 µs (docs/results/2026-12-07.md).
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, raw_args[0], &files, &attributes, raw_args.data(), raw_env.data());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&files);
  close(output_fd);
  if (error != 0) throw std::system_error(error, std::generic_category(), "cannot start " + argv[0]);
  return pid;
}

void adopt_spawning_parent() {
  const char* value = std::getenv(std::string(kParentVariable).c_str());
  if (value == nullptr) return;
  const auto parent = static_cast<pid_t>(std::strtol(value, nullptr, 10));
  unsetenv(std::string(kParentVariable).c_str());  // not inherited by what this process starts
  umask(077);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died before prctl took effect; then nobody would kill us later.
  if (getppid() != parent) _exit(126);
}

std::optional<ExitStatus> try_reap(pid_t pid) {
  int status = 0;
  const pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == pid) return decode(status);
  if (r < 0 && errno == ECHILD) return ExitStatus{};  // already reaped elsewhere
  return std::nullopt;
}

bool has_exited(pid_t pid) {
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return errno == ECHILD;
  return info.si_pid == pid;
}

std::optional<ExitStatus> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(200);
  while (true) {
    if (auto status = try_reap(pid)) return status;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(10));
  }
}

ExitStatus stop_child(pid_t pid, std::chrono::milliseconds grace) {
  ::kill(pid, SIGTERM);
  if (auto status = wait_for_exit(pid, grace)) return *status;
  ::kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return decode(status);
}

// read(2), not std::ifstream: a process exiting under us makes the read fail with ESRCH, which
// std::ifstream turns into an exception instead of an end of file.
std::string read_proc_file(pid_t pid, const char* name) {
  const std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) text.clear();
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

bool process_exists(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  // A zombie still answers kill(0) but is gone for every purpose here — once its other threads are gone
  // too: a killed process's main thread can be a zombie while another thread still holds its files (and
  // so its record locks: a node's data directory would still be "open in another process").
  const std::string text = read_proc_file(pid, "stat");
  if (text.empty()) return false;
  const auto paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return true;
  if (text[paren + 2] != 'Z') return true;
  const std::string status = read_proc_file(pid, "status");
  const auto threads = status.find("\nThreads:");
  return threads != std::string::npos && std::strtoul(status.c_str() + threads + 9, nullptr, 10) > 1;
}

}  // namespace shmraft::launcher
