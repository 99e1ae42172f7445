#pragma once
// Minor page faults, for the tests that show a cost moved off a thread (a segment prepared ahead, a
// fork's values copied or unshared before the parent writes them): they count faults, not time.
//
// Under a sanitizer those counts include the sanitizer's own: ASan and TSan keep shadow memory for every
// byte the program touches, and a first touch of the program's page faults in shadow pages as well (TSan:
// a few per page), so a count of "almost none" cannot hold there. Such a test skips itself with the reason;
// it runs in the release build, which is what CI runs.
#include <sys/resource.h>

namespace shmraft::testing {

inline long minor_faults(int who = RUSAGE_SELF) {
  struct rusage usage {};
  ::getrusage(who, &usage);
  return usage.ru_minflt;
}

inline long thread_minor_faults() {
  return minor_faults(RUSAGE_THREAD);
}

// Whether fault counts are the program's in this build; if not, says so on stdout (once a test).
inline bool fault_counts_are_the_programs() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  std::cout << "fault bounds not checked: the sanitizer's shadow-memory faults are counted too\n";
  return false;
#else
  return true;
#endif
}

}  // namespace shmraft::testing
