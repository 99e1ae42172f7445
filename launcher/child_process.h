#pragma once
// Starting and stopping the node processes the launcher supervises.
//
// A child is started with posix_spawn, not fork: glibc spawns with clone(CLONE_VM | CLONE_VFORK), while
// fork would copy the launcher's page tables and write-protect its pages, so the benchmark's client
// threads would stall for the copy and then take a copy-on-write fault per page they write (1-2 ms and
// more per node restart on these VMs, inside the measurement of a follower's kill).
// The child (always this same binary) calls adopt_spawning_parent() first thing: it sets
// PR_SET_PDEATHSIG=SIGKILL, so if the spawning thread dies by any means (even SIGKILL) the kernel kills the
// child too: no orphans keep a segment or a data directory busy. It runs in a session of its own, without
// a controlling terminal, so a Ctrl-C (or a hang-up) in the terminal reaches only the command that owns
// it, which then stops its children in order and reports. The signal mask and dispositions are reset for
// the child, because the supervisor blocks the signals it reads through a signalfd and a blocked mask
// survives exec.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace shmraft::launcher {

// How a child ended, from waitpid's status.
struct ExitStatus {
  int code = 0;                  // exit code when it exited
  int signal = 0;                // terminating signal, 0 if it exited
  std::string describe() const;  // "exit 0", "killed by SIGKILL"
};

// The running executable, for re-exec'ing this same binary as a node (`shmraft node ...`). Resolved
// once, so a rebuilt binary replacing the file does not mix versions in one cluster.
const std::filesystem::path& self_executable();

// Starts `argv[0]` (this binary) with `argv`; stdout and stderr go to `output` (appended, 0600, opened
// without following a symlink from its checked directory: see PrivateDir), stdin is /dev/null. Throws
// LauncherError if `output` cannot be opened safely, std::system_error if the spawn or the exec fails.
pid_t spawn_child(const std::vector<std::string>& argv, const std::filesystem::path& output);

// The child's half, called first in main(): when spawn_child started this process, die with the thread
// that spawned it (or at once if that is already gone) and create files private whatever the umask of
// the shell that started the launcher. Does nothing in a process started otherwise.
void adopt_spawning_parent();

// Non-blocking: the status if `pid` (our child) has exited and is now reaped.
std::optional<ExitStatus> try_reap(pid_t pid);

// Non-blocking: true if `pid` (our child) has exited, leaving it to be reaped.
bool has_exited(pid_t pid);

// Waits up to `timeout` for our child to exit; reaps it.
std::optional<ExitStatus> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout);

// SIGTERM, then SIGKILL if it has not exited after `grace`; reaps it.
ExitStatus stop_child(pid_t pid, std::chrono::milliseconds grace);

// True if a process with this pid exists (any owner); false for pid <= 0.
bool process_exists(pid_t pid);

// /proc/<pid>/<name>, or "" when the process is gone (also when it exits while being read).
std::string read_proc_file(pid_t pid, const char* name);

}  // namespace shmraft::launcher
