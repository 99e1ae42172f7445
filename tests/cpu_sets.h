#pragma once
// CPU sets for the tests of where threads may run (a restart's CPU of its own, launcher/start_isolation.h).
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/types.h>

namespace shmraft::testing {

// The CPUs `thread` may run on (0: the calling thread).
inline cpu_set_t cpus_of(pid_t thread) {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  EXPECT_EQ(sched_getaffinity(thread, sizeof(cpus), &cpus), 0) << "thread " << thread;
  return cpus;
}

inline bool same(const cpu_set_t& a, const cpu_set_t& b) {
  return CPU_EQUAL(&a, &b);
}

inline cpu_set_t only(int cpu) {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  CPU_SET(cpu, &cpus);
  return cpus;
}

inline cpu_set_t without(cpu_set_t cpus, int cpu) {
  CPU_CLR(cpu, &cpus);
  return cpus;
}

// The highest-numbered CPU of `cpus`: the one a start is isolated on.
inline int last_cpu(const cpu_set_t& cpus) {
  int last = -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &cpus)) last = cpu;
  }
  return last;
}

}  // namespace shmraft::testing
