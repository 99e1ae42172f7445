#pragma once
// Open-loop pacing: operation i is due at start + i / rate, whatever happened to the ones before it.
// A client measures each latency from that intended send time, not from when it actually got round to
// sending, so a stall of the system under test shows up in every operation it delayed (coordinated
// omission is not hidden).
#include <cstdint>

namespace shmraft::bench {

class OpenLoopSchedule {
 public:
  // Throws std::invalid_argument unless 0 < rate <= 1e9 ops/s.
  OpenLoopSchedule(double rate_ops_per_s, uint64_t start_ns);

  // The share of client `client` out of `clients` of a total `rate`: rate / clients each, with the
  // clients' starts staggered by one total period so the merged stream is evenly spaced.
  static OpenLoopSchedule for_client(double total_rate_ops_per_s, uint64_t start_ns, uint32_t client,
                                     uint32_t clients);

  uint64_t intended_send_ns(uint64_t op_index) const noexcept;
  // How many operations (0 .. n-1) are due at `now_ns`: the client sends every op below this number.
  uint64_t ops_due_by(uint64_t now_ns) const noexcept;
  // Nanoseconds from `now_ns` until operation `op_index` is due (0 when it already is).
  uint64_t ns_until(uint64_t op_index, uint64_t now_ns) const noexcept;

  double rate_ops_per_s() const noexcept { return rate_; }
  double period_ns() const noexcept { return period_ns_; }
  uint64_t start_ns() const noexcept { return start_ns_; }

 private:
  double rate_;
  double period_ns_;
  uint64_t start_ns_;
};

}  // namespace shmraft::bench
