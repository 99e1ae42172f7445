#include "launcher/signal_watch.h"

#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace shmraft::launcher {

SignalWatch::SignalWatch(std::initializer_list<int> signals) {
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : signals) sigaddset(&mask, sig);
  pthread_sigmask(SIG_BLOCK, &mask, &previous_mask_);
  fd_ = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd_ < 0) {
    const int saved = errno;
    pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
    throw std::system_error(saved, std::generic_category(), "signalfd");
  }
}

SignalWatch::~SignalWatch() {
  close(fd_);
  pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

std::vector<signalfd_siginfo> SignalWatch::wait(std::chrono::milliseconds timeout) {
  std::vector<signalfd_siginfo> received;
  pollfd pfd{fd_, POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) return received;
  signalfd_siginfo info;
  while (::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) received.push_back(info);
  return received;
}

}  // namespace shmraft::launcher
