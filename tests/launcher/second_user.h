#pragma once
// A second, unprivileged user of the host, created for a test (useradd) and removed after it, so a test
// can plant what another user could — symlinks, directories — and check that shmraft follows nothing.
// Needs root: tests call GTEST_SKIP() with the reason when available() is false.
#include <sys/types.h>

#include <functional>
#include <string>

namespace shmraft::testing {

class SecondUser {
 public:
  // True when this process can create users (euid 0 and useradd exists); else `why` says why not.
  static bool available(std::string& why);

  SecondUser();  // throws std::runtime_error if useradd fails
  ~SecondUser();
  SecondUser(const SecondUser&) = delete;
  SecondUser& operator=(const SecondUser&) = delete;

  uid_t uid() const noexcept { return uid_; }
  gid_t gid() const noexcept { return gid_; }

  // Runs `action` in a forked child under this user's uid and gid; true if it returned true.
  bool run_as(const std::function<bool()>& action) const;

 private:
  std::string name_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

}  // namespace shmraft::testing
