#pragma once
// The clients of `shmraft chaos`: one thread per client, each with its own client slot and exactly-once
// session, issuing random operations on a small key space and recording every one (including those of
// unknown outcome) in the shared JSON-lines history.
//
// Written values are unique per operation ("a<client>.<n>;" for appends, "p<client>.<n>" for puts,
// "s<client>.<n>" for cas), so a lost, duplicated or resurrected write is visible to the checker.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "launcher/checker/history.h"

namespace shmraft::launcher {

struct WorkloadOptions {
  uint32_t clients = 4;
  uint32_t keys = 5;
  uint64_t seed = 0;
  std::chrono::milliseconds op_timeout{2000};
  std::chrono::microseconds think{1000};  // pause between one client's operations
};

struct WorkloadStats {
  uint64_t ok = 0;
  uint64_t cas_failed = 0;
  uint64_t unknown = 0;
  uint64_t rejected = 0;
  uint64_t total() const noexcept { return ok + cas_failed + unknown + rejected; }
};

class Workload {
 public:
  Workload(std::string cluster, WorkloadOptions options, checker::HistoryWriter& history);
  ~Workload();  // stops and joins
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  void start();
  // Asks every client to stop after its current operation and joins them. Rethrows the first error a
  // client thread hit (e.g. it could not claim a slot).
  void stop();
  WorkloadStats stats() const;

 private:
  void run_client(uint32_t index);

  std::string cluster_;
  WorkloadOptions options_;
  checker::HistoryWriter& history_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> ok_{0}, cas_failed_{0}, unknown_{0}, rejected_{0};
  std::exception_ptr error_;
  std::atomic<bool> have_error_{false};
};

}  // namespace shmraft::launcher
