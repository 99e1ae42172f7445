#include "launcher/start_isolation.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>

namespace shmraft::launcher {
namespace {

// The threads of `process` now (none if it is gone or not ours to read).
std::vector<pid_t> threads_of(pid_t process) {
  std::vector<pid_t> threads;
  const std::string dir = "/proc/" + std::to_string(process) + "/task";
  DIR* tasks = opendir(dir.c_str());
  if (tasks == nullptr) return threads;
  while (const dirent* entry = readdir(tasks)) {
    const std::string_view name = entry->d_name;
    pid_t tid = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), tid).ec == std::errc() && tid > 0)
      threads.push_back(tid);
  }
  closedir(tasks);
  return threads;
}

bool set_cpus(pid_t thread, const cpu_set_t& cpus) {
  return sched_setaffinity(thread, sizeof(cpus), &cpus) == 0;
}

}  // namespace

StartIsolation::StartIsolation(const std::vector<RunningProcess>& running) : processes_(running) {
  if (sched_getaffinity(0, sizeof(caller_had_), &caller_had_) != 0 || CPU_COUNT(&caller_had_) < 2) return;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &caller_had_)) cpu_ = cpu;
  }
  active_ = true;
  try {
    // First onto the isolated CPU: the moves cost ~10 µs of system call each on a PVM guest, 0.3–0.5 ms
    // in all, which belongs there rather than on the CPUs the commit path keeps.
    to_isolated_cpu();
    for (const RunningProcess& process : processes_) move(process);
  } catch (...) {
    end();  // no destructor runs for a half-built object: give back what was moved
    throw;
  }
}

void StartIsolation::to_isolated_cpu() const {
  cpu_set_t isolated;
  CPU_ZERO(&isolated);
  CPU_SET(cpu_, &isolated);
  set_cpus(0, isolated);
}

std::optional<int> StartIsolation::isolated_cpu() const noexcept {
  if (!active_) return std::nullopt;
  return cpu_;
}

void StartIsolation::move(const RunningProcess& process) {
  for (const pid_t thread : threads_of(process.pid)) {
    if (thread == gettid()) continue;  // the caller's CPUs are caller_had_
    Seen seen{thread, {}, {}, false};
    if (sched_getaffinity(thread, sizeof(seen.had), &seen.had) != 0) continue;
    cpu_set_t target;
    if (process.commit_path == CommitPath::every_thread || thread == process.pid) {
      target = seen.had;  // off the isolated CPU
      CPU_CLR(cpu_, &target);
    } else {  // background work: with the start
      CPU_ZERO(&target);
      if (CPU_ISSET(cpu_, &seen.had)) CPU_SET(cpu_, &target);
    }
    seen.moved = CPU_COUNT(&target) != 0 && set_cpus(thread, target);
    seen.given = target;
    seen_.push_back(seen);
  }
}

void StartIsolation::spawned(pid_t started) {
  if (!active_) return;
  started_ = started;
}

void StartIsolation::end() {
  if (!active_) return;
  active_ = false;  // the calling thread is on the isolated CPU still: the moves below run there too
  const auto seen = [&](pid_t thread) {
    return std::find_if(seen_.begin(), seen_.end(), [&](const Seen& s) { return s.thread == thread; });
  };
  for (const RunningProcess& process : processes_) {
    // What a thread born meanwhile gets: the CPUs its process's main thread had (none if unknown).
    const cpu_set_t* main_had = process.pid == gettid() ? &caller_had_ : nullptr;
    if (const auto main_thread = seen(process.pid); main_thread != seen_.end()) main_had = &main_thread->had;
    for (const pid_t thread : threads_of(process.pid)) {
      if (thread == gettid()) continue;
      if (const auto it = seen(thread); it != seen_.end()) {
        cpu_set_t now;
        if (it->moved && sched_getaffinity(thread, sizeof(now), &now) == 0 && CPU_EQUAL(&now, &it->given))
          set_cpus(thread, it->had);
      } else if (main_had != nullptr) {
        set_cpus(thread, *main_had);
      }
    }
  }
  if (started_ != 0) {
    for (const pid_t thread : threads_of(started_)) set_cpus(thread, caller_had_);
  }
  set_cpus(0, caller_had_);
  seen_.clear();
}

}  // namespace shmraft::launcher
