#include "launcher/mm_keeper.h"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <system_error>
#include <utility>

namespace shmraft::launcher {

namespace {

constexpr std::size_t kStackBytes = 64 * 1024;  // the keeper calls nothing: a few hundred bytes suffice

// What the keeper needs, at the low end of its stack mapping (the stack grows down from the top).
struct KeeperArgs {
  int owner_pidfd;
  timespec linger;
};

#if SHMRAFT_MM_KEEPER_SUPPORTED
// A system call without libc. The keeper runs on the thread pointer of the thread that cloned it, so
// libc's errno (thread-local) would be that thread's, written from another process at any moment; and
// libc may take locks or touch state of the process it shares memory with. Returns -errno on failure.
[[gnu::always_inline]] inline long raw_syscall(long number, long a1 = 0, long a2 = 0, long a3 = 0,
                                               long a4 = 0) {
  long result;
  __asm__ volatile("mov %5, %%r10\n\tsyscall"
                   : "=a"(result)
                   : "a"(number), "D"(a1), "S"(a2), "d"(a3), "r"(a4)
                   : "rcx", "r10", "r11", "memory");
  return result;
}

template <class T>
long arg(T* pointer) {
  return reinterpret_cast<long>(pointer);
}

// The keeper's whole life. Only raw system calls from here on: no allocation, no lock, no libc.
[[noreturn]] int keep(void* raw_args) {
  const KeeperArgs args = *static_cast<const KeeperArgs*>(raw_args);
  // Every signal blocked (the cloning thread blocked them too, for the instant before this runs), so no
  // handler of the node ever runs here; SIGKILL still ends it.
  const unsigned long all_signals = ~0UL;
  raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, arg(&all_signals), 0, sizeof all_signals);
  // Every file but the owner's pidfd goes at once: the node alone holds its locks, sockets and pipes.
  if (args.owner_pidfd > 0) raw_syscall(SYS_close_range, 0, args.owner_pidfd - 1, 0);
  raw_syscall(SYS_close_range, args.owner_pidfd + 1, ~0U, 0);
  // It lives on the last CPU it may use: the one a restarted node has to itself while its supervisor
  // (`bench --failover`, `up`) keeps the others off it (start_isolation.h). Woken by the owner's death
  // anywhere else, it would land on a survivor's CPU at the moment of the election (measured: a follower
  // kill's worst operation 0.85 ms with every keeper there, 1.73 ms with the restarted nodes' keepers
  // free, docs/design.md).
  unsigned long cpus[16] = {};  // room for 1 024 CPUs
  const long bytes = raw_syscall(SYS_sched_getaffinity, 0, sizeof cpus, arg(cpus));
  for (long word = bytes / static_cast<long>(sizeof cpus[0]) - 1; word >= 0; --word) {
    if (cpus[word] == 0) continue;
    unsigned long last[16] = {};
    last[word] = 1UL << (63 - __builtin_clzl(cpus[word]));
    raw_syscall(SYS_sched_setaffinity, 0, sizeof last, arg(last));
    break;
  }
  // Woken by the owner's death, a batch task preempts nobody; yet killed in an orderly stop it gets its
  // fair share of a CPU at once (idle priority might wait long on a busy host, and an unprivileged owner
  // could not raise it back).
  const sched_param no_priority{};
  raw_syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, arg(&no_priority));
  // Named last, so a name says the set-up above is done (what ps and /proc/<pid>/comm show).
  static const char kName[] = "shmraft-keeper";
  raw_syscall(SYS_prctl, PR_SET_NAME, arg(kName));
  // Readable once the owner's every thread has exited, however it ended. The pidfd was opened before
  // the clone, so it names the owner even if the owner died before this line ran.
  pollfd owner{args.owner_pidfd, POLLIN, 0};
  while (raw_syscall(SYS_ppoll, arg(&owner), 1, 0, 0) == -EINTR) {
  }
  // From here on the teardown must never take a CPU from the survivors.
  raw_syscall(SYS_sched_setscheduler, 0, SCHED_IDLE, arg(&no_priority));
  timespec left = args.linger;
  while (raw_syscall(SYS_nanosleep, arg(&left), arg(&left)) == -EINTR) {
  }
  // The last user of the address space: the kernel tears it down in this exit.
  for (;;) raw_syscall(SYS_exit_group, 0);
}
#endif

}  // namespace

MmKeeper MmKeeper::start(std::chrono::nanoseconds linger) {
#if SHMRAFT_MM_KEEPER_SUPPORTED
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
  if (pidfd < 0) throw std::system_error(errno, std::generic_category(), "pidfd_open");
  void* stack =
      ::mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    const int saved = errno;
    ::close(pidfd);
    throw std::system_error(saved, std::generic_category(), "mmap of the keeper's stack");
  }
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(linger);
  auto* args = new (stack) KeeperArgs{
      pidfd, {static_cast<time_t>(seconds.count()), static_cast<long>((linger - seconds).count())}};
  // The keeper starts with this thread's signal mask: all blocked, so no signal reaches it before it
  // blocks them itself. Exit signal 0: it sends no SIGCHLD, and only waitpid(__WCLONE) reaps it.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  const pid_t pid = ::clone(keep, static_cast<char*>(stack) + kStackBytes, CLONE_VM, args);
  const int saved = errno;
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ::close(pidfd);  // the keeper has its own copy
  if (pid < 0) {
    ::munmap(stack, kStackBytes);
    throw std::system_error(saved, std::generic_category(), "clone of the keeper");
  }
  return MmKeeper(pid, stack);
#else
  (void)linger;
  return MmKeeper();
#endif
}

MmKeeper::MmKeeper(MmKeeper&& other) noexcept
    : pid_(std::exchange(other.pid_, 0)), stack_(std::exchange(other.stack_, nullptr)) {}

MmKeeper& MmKeeper::operator=(MmKeeper&& other) noexcept {
  if (this != &other) {
    stop();
    pid_ = std::exchange(other.pid_, 0);
    stack_ = std::exchange(other.stack_, nullptr);
  }
  return *this;
}

void MmKeeper::stop() noexcept {
  if (pid_ <= 0) return;
  // Our unreaped child (also if it died first): its pid cannot have been reused.
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, __WCLONE) < 0 && errno == EINTR) {
  }
  ::munmap(stack_, kStackBytes);  // no longer anyone's stack
  pid_ = 0;
  stack_ = nullptr;
}

}  // namespace shmraft::launcher
