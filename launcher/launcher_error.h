#pragma once
#include <stdexcept>

namespace shmraft::launcher {

// A failure the user can act on; main prints "shmraft: <what()>" as one line and exits with code 1.
class LauncherError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A command line that cannot be carried out as given (a value out of range for this cluster, flags that
// contradict each other), found after parsing; main exits with code 2, as for a parse error.
class UsageError : public LauncherError {
 public:
  using LauncherError::LauncherError;
};

}  // namespace shmraft::launcher
