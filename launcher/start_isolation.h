#pragma once
// Keeps a starting node's system calls off the CPU its running peers are woken onto (issue 13).
//
// A process that starts spends milliseconds inside single system calls (execve, the first reads of its
// files), and on a kernel built with preemption `none` nothing takes the CPU from it until the call
// ends. A peer woken onto that CPU meanwhile waits, and a CPU that goes idle does not take it over
// until a tick's balance. On the 2-CPU host of docs/results/2026-12-07.md, bench_start_stall (three
// processes passing a token over futexes, nothing of shmraft in them) saw a slowest round trip of 2.65 ms
// (p50) after each start of /bin/true beside it, 3.80 ms for shmraft, 0.14 ms without a start; with the
// start isolated as below, 0.34 and 0.43 ms.
//
// So while a node starts, it has one CPU of its own — the last one the supervisor may use — and every
// thread on the commit path (the other nodes' loops, the benchmark's clients) the rest; end() gives each
// thread back the CPUs it had. The running processes' other threads (a node's segment preparer and
// closer, its snapshot threads) join the start on its CPU: they make long system calls too (a 64 MiB
// fallocate, the munmap of a removed segment), and with the commit path on one CPU of two, one of them
// there held every loop for 8.5 ms (perf sched, 7 December). Only where the supervisor may use two CPUs or
// more, and only for threads it may move (sched_setaffinity on another user's process fails, and is skipped);
// a thread allowed nothing but the isolated CPU stays where it is. A thread born during the start runs
// where the thread that created it does (a node's loop that starts its segment closer then: on the
// loops' CPUs) until end(). Scheduling only: nothing here touches safety.
#include <sched.h>
#include <sys/types.h>

#include <optional>
#include <vector>

namespace shmraft::launcher {

// Which threads of a running process are on the commit path: all of them (the benchmark's clients), or
// only the main thread (a node: its loop runs there, node/process/run.cpp).
enum class CommitPath { every_thread, main_thread };

struct RunningProcess {
  pid_t pid;
  CommitPath commit_path;
};

class StartIsolation {
 public:
  // Moves the calling thread onto the isolated CPU (so that a child spawned next starts there, and the
  // moves themselves, ~10 µs of system call each on the host above, run there), then the commit path's
  // threads of `running` off it and their other threads onto it. Inactive (does nothing) where fewer
  // than 2 CPUs are allowed.
  explicit StartIsolation(const std::vector<RunningProcess>& running);
  ~StartIsolation() { end(); }
  StartIsolation(const StartIsolation&) = delete;
  StartIsolation& operator=(const StartIsolation&) = delete;

  bool active() const noexcept { return active_; }
  // The CPU the started process has to itself; nullopt when inactive.
  std::optional<int> isolated_cpu() const noexcept;
  // Call after spawning `started`: end() will give its threads the CPUs the calling thread had. The
  // calling thread stays on the isolated CPU until then: its looks at the started node (every 0.5–1 ms)
  // wake it beside the start, not on a CPU of the commit path (bench --failover, 16 interleaved rounds:
  // events with an operation over 1 ms 30 → 20 of 320).
  void spawned(pid_t started);
  // Every thread moved gets back the CPUs it had, unless its CPUs were changed again meanwhile (by the
  // user's taskset, say: theirs is the later word); a thread born meanwhile, those its process's main
  // thread had; the started process's threads and the calling thread get the calling thread's (not the
  // started node's memory keeper, a process of its own that stays on the isolated CPU: mm_keeper.h).
  // Idempotent.
  void end();

 private:
  struct Seen {
    pid_t thread;
    cpu_set_t had;
    cpu_set_t given;  // what the isolation set, when moved
    bool moved;       // false: left where it was (nowhere else to go, or not ours to move)
  };

  void move(const RunningProcess& process);
  void to_isolated_cpu() const;

  std::vector<RunningProcess> processes_;  // the running ones given, this one among them if given
  std::vector<Seen> seen_;                 // their threads when the isolation began
  pid_t started_ = 0;
  cpu_set_t caller_had_{};
  int cpu_ = -1;
  bool active_ = false;
};

}  // namespace shmraft::launcher
