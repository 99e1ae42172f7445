#include "bench/kit/pacing.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace shmraft::bench {

OpenLoopSchedule::OpenLoopSchedule(double rate_ops_per_s, uint64_t start_ns)
    : rate_(rate_ops_per_s), period_ns_(1e9 / rate_ops_per_s), start_ns_(start_ns) {
  if (!(rate_ops_per_s > 0) || !(rate_ops_per_s <= 1e9)) {
    throw std::invalid_argument("open-loop rate must be in (0, 1e9] ops/s, got " +
                                std::to_string(rate_ops_per_s));
  }
}

OpenLoopSchedule OpenLoopSchedule::for_client(double total_rate_ops_per_s, uint64_t start_ns, uint32_t client,
                                              uint32_t clients) {
  if (clients == 0 || client >= clients) {
    throw std::invalid_argument("open-loop client " + std::to_string(client) + " out of range for " +
                                std::to_string(clients) + " clients");
  }
  if (!(total_rate_ops_per_s > 0)) {
    throw std::invalid_argument("open-loop rate must be positive, got " +
                                std::to_string(total_rate_ops_per_s));
  }
  const double offset = static_cast<double>(client) * 1e9 / total_rate_ops_per_s;
  return OpenLoopSchedule(total_rate_ops_per_s / clients,
                          start_ns + static_cast<uint64_t>(std::llround(offset)));
}

uint64_t OpenLoopSchedule::intended_send_ns(uint64_t op_index) const noexcept {
  // Computed from the start each time (not accumulated), so rounding never drifts.
  return start_ns_ + static_cast<uint64_t>(std::llround(static_cast<double>(op_index) * period_ns_));
}

uint64_t OpenLoopSchedule::ops_due_by(uint64_t now_ns) const noexcept {
  if (now_ns < start_ns_) return 0;
  auto n = static_cast<uint64_t>(static_cast<double>(now_ns - start_ns_) / period_ns_) + 1;
  // The division is a guess that can be one off next to a rounded boundary; settle it exactly.
  while (intended_send_ns(n) <= now_ns) ++n;
  while (n > 0 && intended_send_ns(n - 1) > now_ns) --n;
  return n;
}

uint64_t OpenLoopSchedule::ns_until(uint64_t op_index, uint64_t now_ns) const noexcept {
  const uint64_t due = intended_send_ns(op_index);
  return due > now_ns ? due - now_ns : 0;
}

}  // namespace shmraft::bench
