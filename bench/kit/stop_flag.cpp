#include "bench/kit/stop_flag.h"

#include <signal.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace shmraft::bench {

namespace {

std::atomic<StopFlag*> g_flag{nullptr};

extern "C" void raise_stop_flag(int) {
  if (StopFlag* flag = g_flag.load(std::memory_order_relaxed)) flag->request();
}

}  // namespace

StopOnSignals::StopOnSignals(StopFlag& flag) {
  StopFlag* expected = nullptr;
  if (!g_flag.compare_exchange_strong(expected, &flag)) {
    throw std::logic_error("StopOnSignals: another scope is already active in this process");
  }
  struct sigaction action {};
  action.sa_handler = raise_stop_flag;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;  // the second Ctrl-C kills as usual
  if (sigaction(SIGINT, &action, &saved_interrupt_) != 0 ||
      sigaction(SIGTERM, &action, &saved_terminate_) != 0) {
    const int error = errno;
    sigaction(SIGINT, &saved_interrupt_, nullptr);
    g_flag.store(nullptr);
    throw std::runtime_error(std::string("StopOnSignals: sigaction failed: ") + std::strerror(error));
  }
}

StopOnSignals::~StopOnSignals() {
  sigaction(SIGINT, &saved_interrupt_, nullptr);
  sigaction(SIGTERM, &saved_terminate_, nullptr);
  g_flag.store(nullptr);
}

}  // namespace shmraft::bench
