#pragma once
// A client on a thread of its own that puts a key of its own per write ("<prefix><i>") until stopped,
// and keeps what was acknowledged — its value to read back, and when and by whom it was committed — so
// a test can check that no acknowledged write was lost and measure when writes resumed after a fault.
// A write that failed is in doubt (it may or may not have applied): counted, never read back.
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace shmraft::cluster_test {

struct Acknowledged {
  uint64_t commit_ns = 0;   // the leader's CLOCK_MONOTONIC stamp
  uint64_t receive_ns = 0;  // the client's
  uint32_t leader = 0;      // the node that answered (its id; 0 = not known)
};

class AcknowledgedWriter {
 public:
  explicit AcknowledgedWriter(const std::string& cluster, std::string key_prefix = "k");
  ~AcknowledgedWriter() { stop(); }
  AcknowledgedWriter(const AcknowledgedWriter&) = delete;
  AcknowledgedWriter& operator=(const AcknowledgedWriter&) = delete;

  void stop();
  std::size_t acknowledged();
  std::map<std::string, std::string> values();
  std::size_t in_doubt() const { return in_doubt_; }
  // The first write acknowledged by a node other than `old_leader` and committed after `since_ns`.
  std::optional<Acknowledged> first_after(uint64_t since_ns, uint32_t old_leader);

 private:
  void run(const std::string& cluster);

  const std::string key_prefix_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<Acknowledged> log_;
  std::map<std::string, std::string> values_;
  std::atomic<std::size_t> in_doubt_{0};
  std::thread thread_;  // last: starts once everything it uses exists
};

}  // namespace shmraft::cluster_test
