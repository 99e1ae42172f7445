#pragma once
// Signals as events: blocks them in the calling thread and reads them from a signalfd. Construct it
// before starting threads — they inherit the mask, so the signals reach the descriptor and never a
// handler in a random thread. Children get a clean mask (child_process.cpp resets it before exec).
#include <signal.h>
#include <sys/signalfd.h>

#include <chrono>
#include <initializer_list>
#include <vector>

namespace shmraft::launcher {

class SignalWatch {
 public:
  explicit SignalWatch(std::initializer_list<int> signals);
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  // Every signal that arrived, waiting up to `timeout` for the first one. Empty on timeout.
  std::vector<signalfd_siginfo> wait(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  sigset_t previous_mask_;
};

}  // namespace shmraft::launcher
