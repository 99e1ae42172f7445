#pragma once
// What a benchmark costs the host: CPU seconds (user + system) and peak resident memory of the node
// processes, read from /proc while they run or from wait4() when they are reaped. /proc/<pid>/stat counts
// in clock ticks (10 ms at USER_HZ 100), plenty for windows of seconds.
#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace shmraft::bench {

struct CpuTimes {
  double user_s = 0;
  double system_s = 0;
  double total_s() const noexcept { return user_s + system_s; }
  CpuTimes& operator+=(const CpuTimes& o) noexcept {
    user_s += o.user_s;
    system_s += o.system_s;
    return *this;
  }
  friend CpuTimes operator-(CpuTimes a, const CpuTimes& b) noexcept {
    return {a.user_s - b.user_s, a.system_s - b.system_s};
  }
};

// CPU consumed so far by all threads of `pid`. Throws std::runtime_error naming the pid if it is gone or
// its stat line cannot be parsed.
CpuTimes read_cpu_times(pid_t pid);
// CPU consumed so far by the calling thread (getrusage RUSAGE_THREAD: the scheduler's exact runtime,
// split into user and system): the client threads of a load that shares its process with a node.
CpuTimes read_thread_cpu_times();
// Peak resident set size (VmHWM) of a live process, in bytes. Throws std::runtime_error like above.
uint64_t read_peak_rss_bytes(pid_t pid);

struct ProcessCpu {
  pid_t pid;
  CpuTimes cpu;
};

// CPU used by a fixed set of processes over a window, e.g. all node processes over the measured window.
struct CpuUsage {
  std::vector<ProcessCpu> per_process;
  CpuTimes total;
  double wall_s = 0;
  // Cores kept busy on average: 1.0 is one core fully used.
  double cores() const noexcept { return wall_s > 0 ? total.total_s() / wall_s : 0; }
  double cpu_s_per_op(uint64_t ops) const noexcept {
    return ops ? total.total_s() / static_cast<double>(ops) : 0;
  }
};

class CpuMeter {
 public:
  explicit CpuMeter(std::vector<pid_t> pids);
  void start(uint64_t now_ns);  // snapshot every process
  CpuUsage stop(uint64_t now_ns) const;

 private:
  std::vector<pid_t> pids_;
  std::vector<CpuTimes> at_start_;
  uint64_t start_ns_ = 0;
};

// A child's end, with the resources the kernel accounted to it (wait4).
struct ChildExit {
  pid_t pid;
  int status;  // as from waitpid: WIFEXITED / WEXITSTATUS / WIFSIGNALED ...
  CpuTimes cpu;
  uint64_t peak_rss_bytes;
};

// Blocks until child `pid` ends and reaps it. Throws std::runtime_error if it is not our child.
ChildExit reap_child(pid_t pid);

}  // namespace shmraft::bench
