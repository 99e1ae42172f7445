#include "node/process/forked_snapshot.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <vector>

#include "ipc/clock.h"

namespace shmraft::node {
namespace {

// Exit codes of the child.
constexpr int kChildWriteFailed = 1;
constexpr int kChildSerialiseFailed = 2;
constexpr int kChildOrphaned = 3;

[[noreturn]] void write_image(const kv::StateMachine& kv, const std::filesystem::path& file) {
  std::vector<std::byte> image;
  try {
    image = kv.snapshot();
  } catch (...) {
    _exit(kChildSerialiseFailed);
  }
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::fchmod(fd, 0600) != 0) _exit(kChildWriteFailed);
  for (std::size_t done = 0; done < image.size();) {
    const ssize_t n = ::write(fd, image.data() + done, image.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(kChildWriteFailed);
    done += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd) != 0) _exit(kChildWriteFailed);
  _exit(0);
}

}  // namespace

ForkedSnapshot::ForkedSnapshot(std::filesystem::path image_file) : file_(std::move(image_file)) {
  std::error_code ignored;
  std::filesystem::remove(file_, ignored);
}

ForkedSnapshot::~ForkedSnapshot() {
  cancel();
}

void ForkedSnapshot::start(const kv::StateMachine& kv) {
  const pid_t parent = ::getpid();
  const uint64_t before = ipc::monotonic_ns();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork for a snapshot");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(kChildOrphaned);  // the parent died before prctl
    write_image(kv, file_);
  }
  started_ns_ = ipc::monotonic_ns();
  fork_ns_ = started_ns_ - before;
  child_ = pid;
  index_ = kv.applied_index();
  exit_code_ = 0;
}

ForkedSnapshot::Status ForkedSnapshot::poll() {
  if (child_ <= 0) return Status::kIdle;
  int status = 0;
  const pid_t r = ::waitpid(child_, &status, WNOHANG);
  if (r == 0) return Status::kRunning;
  child_ = 0;
  if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::kDone;
  exit_code_ = r < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  finish();
  return Status::kFailed;
}

void ForkedSnapshot::finish() {
  std::error_code ignored;
  std::filesystem::remove(file_, ignored);
}

void ForkedSnapshot::cancel() {
  if (child_ > 0) {
    ::kill(child_, SIGKILL);
    ::waitpid(child_, nullptr, 0);
    child_ = 0;
  }
  finish();
}

}  // namespace shmraft::node
