#pragma once
// Keeps a killed node's memory teardown off its survivors' election (issue 13).
//
// When the last process using an address space exits, the kernel tears the address space down in that
// exit (exit_mmap): 1.0–1.4 ms of page-table work per node on this VM's guest, on one of the 2 CPUs, at
// the very moment the survivors are woken by the death signal (ipc/liveness.h: the robust futexes are
// walked earlier in the same exit) and want to hold their election. A survivor woken onto that CPU waits
// behind it.
//
// The keeper is a second process sharing the node's memory (clone with CLONE_VM, without CLONE_THREAD):
// it holds a reference on the address space, so a killed node's exit no longer tears it down; the keeper
// does, `linger` after the node is gone, at SCHED_IDLE. Until then it waits as SCHED_BATCH: woken by the
// death it preempts no survivor, yet an orderly stop's SIGKILL ends it at once on a busy host, where an
// idle-policy task may wait long for a CPU and an unprivileged owner cannot raise it back.
//
// It holds nothing else: it closes its copy of every file at once (clone without CLONE_FILES copies the
// table), except a pidfd of its owner, so it never keeps the data directory's lock, a TCP listener or
// anyone's pipe open; it blocks every signal; and it has no robust list (the kernel clears it in a
// clone), so no death cell is its. The node's death is still known at once: the robust-list walk does not
// wait for the teardown.
//
// An orderly stop kills and reaps the keeper (the destructor), so a node that returns leaves nothing
// behind; only a killed (or crashed) node leaves its keeper for `linger` and the teardown after.
// A keeper killed first is the owner's unreaped child (it sends no SIGCHLD) until the destructor reaps
// it: the node does not notice.
#include <sys/types.h>

#include <chrono>

namespace shmraft::launcher {

// Not in sanitizer builds: ASan and TSan keep per-thread state found through the thread pointer, which
// a clone without CLONE_SETTLS shares with the thread that cloned it — a second process on that state is
// outside what they support. Not on architectures other than x86-64: the keeper makes its system calls
// without libc (mm_keeper.cpp says why), and that code is written for x86-64 only.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SHMRAFT_MM_KEEPER_SANITIZED 1
#endif
#endif
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) && \
    !defined(SHMRAFT_MM_KEEPER_SANITIZED)
#define SHMRAFT_MM_KEEPER_SUPPORTED 1
#else
#define SHMRAFT_MM_KEEPER_SUPPORTED 0
#endif
inline constexpr bool kMmKeeperSupported = SHMRAFT_MM_KEEPER_SUPPORTED;

class MmKeeper {
 public:
  // Starts a keeper of the calling process's memory that, once this process is gone, waits `linger`
  // and exits. Call it early, while the process has one thread and few files open (their copies are
  // the keeper's until it first runs). Returns an empty keeper (pid 0) where !kMmKeeperSupported.
  // Throws std::system_error if the kernel refuses (pidfd_open, mmap or clone).
  static MmKeeper start(std::chrono::nanoseconds linger);

  MmKeeper() noexcept = default;
  ~MmKeeper() { stop(); }
  MmKeeper(MmKeeper&& other) noexcept;
  MmKeeper& operator=(MmKeeper&& other) noexcept;
  MmKeeper(const MmKeeper&) = delete;
  MmKeeper& operator=(const MmKeeper&) = delete;

  pid_t pid() const noexcept { return pid_; }

  // SIGKILLs the keeper and reaps it: when this returns, it is gone. Idempotent.
  void stop() noexcept;

 private:
  MmKeeper(pid_t pid, void* stack) noexcept : pid_(pid), stack_(stack) {}

  pid_t pid_ = 0;
  void* stack_ = nullptr;  // the keeper's stack and arguments; unmapped once it is reaped
};

}  // namespace shmraft::launcher
