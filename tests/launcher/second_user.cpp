#include "tests/launcher/second_user.h"

#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

namespace shmraft::testing {

namespace {

int run(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str());
}

}  // namespace

bool SecondUser::available(std::string& why) {
  if (::geteuid() != 0) {
    why = "needs root to create a second user (useradd); run the test as root to check this case";
    return false;
  }
  if (run("command -v useradd") != 0) {
    why = "useradd is not installed (package passwd)";
    return false;
  }
  return true;
}

SecondUser::SecondUser() : name_("shmraft-t" + std::to_string(::getpid())) {
  run("userdel " + name_);  // a leftover of a killed run
  if (run("useradd --system --no-create-home --shell /usr/sbin/nologin " + name_) != 0)
    throw std::runtime_error("useradd " + name_ + " failed");
  const passwd* entry = ::getpwnam(name_.c_str());
  if (entry == nullptr) throw std::runtime_error("no passwd entry for " + name_ + " after useradd");
  uid_ = entry->pw_uid;
  gid_ = entry->pw_gid;
}

SecondUser::~SecondUser() {
  run("userdel " + name_);
}

bool SecondUser::run_as(const std::function<bool()>& action) const {
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    const bool dropped = ::setgroups(0, nullptr) == 0 && ::setgid(gid_) == 0 && ::setuid(uid_) == 0;
    ::_exit(dropped && action() ? 0 : 1);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace shmraft::testing
