#include "node/process/forked_snapshot.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "ipc/clock.h"
#include "node/storage/snapshot_file.h"

namespace shmraft::node {
namespace {

// Exit codes of the child.
constexpr int kChildWriteFailed = 1;
constexpr int kChildSerialiseFailed = 2;
constexpr int kChildOrphaned = 3;
constexpr int kChildSyncFailed = 4;  // of the directory, after the rename

constexpr int kChildNice = 10;

// Closes every descriptor above stdio but `keep`: the child holds none of the node's files and sockets
// (the directory's lock is a record lock, which no child holds: node/storage/file.h).
void close_all_but(int keep) {
  if (keep > 3) ::close_range(3, static_cast<unsigned>(keep) - 1, 0);
  ::close_range(static_cast<unsigned>(std::max(keep + 1, 3)), ~0U, 0);
}

struct ChildWork {
  const kv::StateMachine& kv;
  const storage::SnapshotMeta& meta;
  const std::filesystem::path& staged_file;
  const std::filesystem::path& installed_file;
  bool sync_directory;
  int channel;  // to the parent
};

[[noreturn]] void child_main(const ChildWork& work) {
  // Held until exit, so the parent's rename over it frees nothing (absent before the first snapshot).
  [[maybe_unused]] const int previous = ::open(work.installed_file.c_str(), O_RDONLY | O_CLOEXEC);
  // The image goes to the file a piece at a time as it is serialised: a buffer of the whole image would
  // cost a page fault per 4 KiB of it (a GiB: ~260 K faults, seconds on this VM) before any byte is written.
  try {
    storage::write_snapshot_file(work.staged_file, work.meta, work.kv.snapshot_size(),
                                 [&](const storage::SnapshotPieceSink& write) { work.kv.snapshot(write); });
  } catch (const storage::StorageError&) {
    _exit(kChildWriteFailed);
  } catch (...) {
    _exit(kChildSerialiseFailed);
  }
  char byte = 1;
  if (::send(work.channel, &byte, 1, MSG_NOSIGNAL) != 1) _exit(kChildWriteFailed);
  ssize_t n;
  while ((n = ::recv(work.channel, &byte, 1, 0)) < 0 && errno == EINTR) {
  }
  if (n == 1 && work.sync_directory) {
    try {
      storage::sync_directory(work.installed_file.parent_path());
    } catch (...) {
      _exit(kChildSyncFailed);
    }
  }
  _exit(0);
}

}  // namespace

ForkedSnapshot::~ForkedSnapshot() {
  cancel();
}

void ForkedSnapshot::start(const kv::StateMachine& kv, const storage::SnapshotMeta& meta) {
  int channel[2];  // [0] the parent's end, [1] the child's
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0)
    throw std::system_error(errno, std::generic_category(), "socketpair for a snapshot child");
  storage::UniqueFd ours(channel[0]);
  const storage::UniqueFd theirs(channel[1]);
  const pid_t parent = ::getpid();
  const uint64_t before = ipc::monotonic_ns();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork for a snapshot");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(kChildOrphaned);  // the parent died before prctl
    ::setpriority(PRIO_PROCESS, 0, kChildNice);        // best effort: a failure only costs the loop time
    close_all_but(channel[1]);  // without the parent's end, the child sees EOF once the parent closes it
    child_main({kv, meta, file_, installed_file_, sync_directory_, channel[1]});
  }
  child_ = pid;
  channel_ = std::move(ours);
  written_seen_ = false;
  installed_ = false;
  meta_ = meta;
  exit_code_ = 0;
  child_cpu_ns_ = 0;
  copier_.copy(kv.value_memory());
  started_ns_ = ipc::monotonic_ns();
  fork_ns_ = started_ns_ - before;
}

ForkedSnapshot::Status ForkedSnapshot::poll() {
  if (child_ <= 0) return Status::kIdle;
  if (!written_seen_) {
    char byte;
    if (::recv(channel_.get(), &byte, 1, MSG_DONTWAIT) == 1) {
      written_seen_ = true;
      return Status::kWritten;
    }
  }
  int status = 0;
  struct rusage usage {};
  const pid_t r = ::wait4(child_, &status, WNOHANG, &usage);
  if (r == 0) return Status::kRunning;
  if (r > 0) {
    child_cpu_ns_ = (static_cast<uint64_t>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1'000'000 +
                     static_cast<uint64_t>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)) *
                    1000;
  }
  release_child();
  if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::kDone;  // only after installed()
  exit_code_ = r < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  remove_staged_file();
  return Status::kFailed;
}

void ForkedSnapshot::installed() {
  installed_ = true;
  const char byte = 1;
  ::send(channel_.get(), &byte, 1, MSG_NOSIGNAL);  // a child that died meanwhile: poll() says so
}

void ForkedSnapshot::remove_staged_file() {
  std::error_code ignored;
  std::filesystem::remove(file_, ignored);
}

void ForkedSnapshot::cancel() {
  if (child_ > 0) {
    ::kill(child_, SIGKILL);
    ::waitpid(child_, nullptr, 0);
    release_child();
  }
  remove_staged_file();
}

void ForkedSnapshot::release_child() {
  child_ = 0;
  channel_ = storage::UniqueFd();
}

}  // namespace shmraft::node
