#pragma once
#include <stdexcept>

namespace shmraft::launcher {

// A failure the user can act on; main prints "shmraft: <what()>" as one line and exits with code 1.
class LauncherError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace shmraft::launcher
