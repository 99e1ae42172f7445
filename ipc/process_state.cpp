#include "ipc/process_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "ipc/segment.h"

namespace shmraft::ipc {

const char* to_string(ProcessState state) noexcept {
  switch (state) {
    case ProcessState::kRunnable:
      return "runnable";
    case ProcessState::kSleeping:
      return "sleeping";
    case ProcessState::kStopped:
      return "stopped";
    case ProcessState::kGone:
      return "gone";
    case ProcessState::kUnknown:
      break;
  }
  return "unknown";
}

ProcessState parse_process_stat(std::string_view line) noexcept {
  // The fields after comm are numbers: its last ')' ends it.
  const std::size_t close = line.rfind(')');
  if (close == std::string_view::npos || close + 2 >= line.size() || line[close + 1] != ' ')
    return ProcessState::kUnknown;
  switch (line[close + 2]) {
    case 'R':
      return ProcessState::kRunnable;
    case 'S':  // interruptible sleep
    case 'D':  // uninterruptible: the disk, a page fault
    case 'I':  // idle kernel thread
    case 'W':  // paging (old kernels), waking
    case 'P':  // parked
      return ProcessState::kSleeping;
    case 'T':  // stopped by a signal
    case 't':  // stopped by a tracer
      return ProcessState::kStopped;
    case 'Z':  // exited, not yet reaped
    case 'X':  // dead
    case 'x':
      return ProcessState::kGone;
    default:
      return ProcessState::kUnknown;
  }
}

ProcessState process_state(pid_t pid) noexcept {
  if (pid <= 0) return ProcessState::kUnknown;
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT || errno == ESRCH ? ProcessState::kGone : ProcessState::kUnknown;
  // The state comes within the first 40 bytes (comm is at most 15 characters); the rest is not needed.
  char line[128];
  ssize_t n;
  do {
    n = ::read(fd, line, sizeof line);
  } while (n < 0 && errno == EINTR);
  const int read_errno = errno;
  ::close(fd);
  if (n < 0) return read_errno == ESRCH ? ProcessState::kGone : ProcessState::kUnknown;
  return parse_process_stat(std::string_view(line, static_cast<std::size_t>(n)));
}

ProcessState judge_claimed_process(const PeerLiveness& before, ProcessState seen,
                                   const PeerLiveness& after) noexcept {
  if (!before.alive) return ProcessState::kGone;
  if (!after.alive || after.incarnation != before.incarnation || after.pid != before.pid)
    return ProcessState::kGone;  // died while we looked: `seen` may be another process's
  // The claim lived throughout, so "no such process" is our view of /proc (not mounted, hidepid, another
  // pid namespace), not a death: unknown, or every idle leader would be suspected.
  return seen == ProcessState::kGone ? ProcessState::kUnknown : seen;
}

ProcessState node_process_state(const Segment& segment, uint32_t node) {
  const PeerLiveness before = segment.peer_alive(node);
  if (!before.alive) return ProcessState::kGone;
  const ProcessState seen = process_state(before.pid);
  return judge_claimed_process(before, seen, segment.peer_alive(node));
}

}  // namespace shmraft::ipc
