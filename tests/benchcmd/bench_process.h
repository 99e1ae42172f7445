#pragma once
// `shmraft bench ...` run as a child process of the test, its stdout and stderr captured in files, so a
// test can signal it mid-run (Ctrl-C) and then read what it printed. Also: what a bench run may leave
// behind (segments, node processes, data directories), found by its pid.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace shmraft::benchcmd_test {

struct BenchOutput {
  int exit_code = -1;  // -1: killed by a signal or by the timeout
  std::string out;
  std::string err;
  std::string describe() const;  // for failure messages
};

class BenchProcess {
 public:
  // Starts SHMRAFT_BINARY bench <args...>.
  explicit BenchProcess(const std::vector<std::string>& args);
  // SIGKILLs the process if it is still running.
  ~BenchProcess();
  BenchProcess(const BenchProcess&) = delete;
  BenchProcess& operator=(const BenchProcess&) = delete;

  pid_t pid() const noexcept { return launched_; }  // also after wait()
  std::filesystem::file_time_type started() const noexcept { return started_; }
  void signal(int signo) const;
  std::string stderr_so_far() const;
  // Waits for the exit (SIGKILL after `timeout`, exit_code -1) and returns what it printed.
  BenchOutput wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));

 private:
  pid_t launched_ = 0;
  std::filesystem::file_time_type started_ = std::filesystem::file_time_type::clock::now();
  pid_t pid_ = 0;  // 0 once reaped
  std::filesystem::path dir_;
};

// Runs a bench to completion.
BenchOutput run_bench(const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60));

// What the bench process may leave behind: its segments (/dev/shm/shmraft.bench-<pid>-*) and data
// directories made since it started (an earlier process with the same pid may have left some: not its),
// and live processes whose command line names one of its clusters.
std::vector<std::string> leftovers_of(const BenchProcess& bench);

}  // namespace shmraft::benchcmd_test
