#include "bench/kit/resources.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>

namespace shmraft::bench {

namespace {

[[noreturn]] void fail(pid_t pid, const std::string& what) {
  throw std::runtime_error("process " + std::to_string(pid) + ": " + what);
}

std::string read_proc_file(pid_t pid, const char* name) {
  const std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  std::ifstream in(path);
  if (!in) fail(pid, "cannot read " + path + " (process gone?)");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

double ticks_to_seconds(unsigned long long ticks) {
  static const long ticks_per_second = sysconf(_SC_CLK_TCK);
  return static_cast<double>(ticks) / static_cast<double>(ticks_per_second);
}

}  // namespace

CpuTimes read_cpu_times(pid_t pid) {
  const std::string stat = read_proc_file(pid, "stat");
  // The command name (field 2) is in parentheses and may itself hold spaces and ')': fields resume after
  // the last ')'. utime and stime are fields 14 and 15, i.e. the 12th and 13th after it.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) fail(pid, "malformed /proc stat line");
  std::istringstream fields(stat.substr(close + 1));
  std::string skip;
  for (int i = 0; i < 11; ++i) fields >> skip;
  unsigned long long utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) fail(pid, "malformed /proc stat line");
  return {ticks_to_seconds(utime), ticks_to_seconds(stime)};
}

CpuTimes read_thread_cpu_times() {
  rusage usage{};
  if (getrusage(RUSAGE_THREAD, &usage) != 0)
    throw std::runtime_error(std::string("getrusage(RUSAGE_THREAD): ") + std::strerror(errno));
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return {seconds(usage.ru_utime), seconds(usage.ru_stime)};
}

uint64_t read_peak_rss_bytes(pid_t pid) {
  std::istringstream status(read_proc_file(pid, "status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream value(line.substr(6));
      uint64_t kib = 0;
      if (!(value >> kib)) fail(pid, "malformed VmHWM line");
      return kib * 1024;
    }
  }
  fail(pid, "no VmHWM in /proc status (a kernel thread or a zombie?)");
}

CpuMeter::CpuMeter(std::vector<pid_t> pids) : pids_(std::move(pids)) {}

void CpuMeter::start(uint64_t now_ns) {
  at_start_.clear();
  for (pid_t pid : pids_) at_start_.push_back(read_cpu_times(pid));
  start_ns_ = now_ns;
}

CpuUsage CpuMeter::stop(uint64_t now_ns) const {
  if (at_start_.size() != pids_.size()) throw std::logic_error("CpuMeter::stop before start");
  CpuUsage usage;
  usage.wall_s = static_cast<double>(now_ns - start_ns_) * 1e-9;
  for (std::size_t i = 0; i < pids_.size(); ++i) {
    const CpuTimes used = read_cpu_times(pids_[i]) - at_start_[i];
    usage.per_process.push_back({pids_[i], used});
    usage.total += used;
  }
  return usage;
}

ChildExit reap_child(pid_t pid) {
  int status = 0;
  rusage usage{};
  pid_t got;
  do {
    got = wait4(pid, &status, 0, &usage);
  } while (got < 0 && errno == EINTR);
  if (got < 0) fail(pid, std::string("wait4: ") + std::strerror(errno));
  const auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec * 1e-6; };
  // ru_maxrss is in KiB on Linux.
  return {pid,
          status,
          {seconds(usage.ru_utime), seconds(usage.ru_stime)},
          static_cast<uint64_t>(usage.ru_maxrss) * 1024};
}

}  // namespace shmraft::bench
