#include "launcher/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
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

// Between fork and exec only async-signal-safe calls: everything is prepared before fork.
[[noreturn]] void exec_child(const std::vector<char*>& argv, int output_fd, pid_t parent) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  }
  umask(077);  // what the node creates is private whatever the umask of the shell that started us
  setsid();    // the terminal's signals go to its foreground process group: no longer ours
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died before prctl took effect; then nobody would kill us later.
  if (getppid() != parent) _exit(126);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
  dup2(output_fd, STDOUT_FILENO);
  dup2(output_fd, STDERR_FILENO);
  execv(argv[0], argv.data());
  // strerror is not async-signal-safe (this may be a forked copy of a multithreaded process): errno only.
  char text[64] = "shmraft: exec failed, errno ";
  std::size_t at = strlen(text);
  char digits[12];
  int n = 0;
  for (int e = errno; (e > 0 || n == 0) && n < 11; e /= 10) digits[n++] = static_cast<char>('0' + e % 10);
  while (n > 0) text[at++] = digits[--n];
  text[at++] = '\n';
  (void)!write(STDERR_FILENO, text, at);
  _exit(127);
}

}  // namespace

pid_t spawn_child(const std::vector<std::string>& argv, const std::filesystem::path& output) {
  if (argv.empty()) throw std::invalid_argument("spawn_child: empty argv");
  std::vector<char*> raw;
  raw.reserve(argv.size() + 1);
  for (const std::string& arg : argv) raw.push_back(const_cast<char*>(arg.c_str()));
  raw.push_back(nullptr);
  const int output_fd =
      PrivateDir::open(output.parent_path()).open_file(output.filename().string(), O_WRONLY | O_APPEND);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) exec_child(raw, output_fd, parent);
  const int saved = errno;
  close(output_fd);
  if (pid < 0) throw std::system_error(saved, std::generic_category(), "fork");
  return pid;
}

std::optional<ExitStatus> try_reap(pid_t pid) {
  int status = 0;
  const pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == pid) return decode(status);
  if (r < 0 && errno == ECHILD) return ExitStatus{};  // already reaped elsewhere
  return std::nullopt;
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
