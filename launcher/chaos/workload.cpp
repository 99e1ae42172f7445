#include "launcher/chaos/workload.h"

#include <fmt/format.h>

#include <random>

#include "launcher/client/client.h"

namespace shmraft::launcher {

Workload::Workload(std::string cluster, WorkloadOptions options, checker::HistoryWriter& history)
    : cluster_(std::move(cluster)), options_(options), history_(history) {}

Workload::~Workload() {
  stop_ = true;
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

void Workload::start() {
  for (uint32_t i = 0; i < options_.clients; ++i) threads_.emplace_back([this, i] { run_client(i); });
}

void Workload::stop() {
  stop_ = true;
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
  if (error_) std::rethrow_exception(error_);
}

WorkloadStats Workload::stats() const {
  return {ok_.load(), cas_failed_.load(), unknown_.load(), rejected_.load()};
}

void Workload::run_client(uint32_t index) {
  try {
    client::ClientOptions options;
    options.operation_timeout = options_.op_timeout;
    options.history = &history_;
    options.history_client = index;
    client::Client client(cluster_, options);
    std::mt19937_64 rng(options_.seed * 0x9e3779b97f4a7c15ULL + index + 1);
    std::uniform_int_distribution<uint32_t> pick_key(0, options_.keys - 1);
    std::uniform_int_distribution<uint32_t> pick_op(0, 99);
    std::vector<std::string> last_read(options_.keys);  // cas expects what this client saw last
    for (uint64_t n = 1; !stop_.load(std::memory_order_relaxed); ++n) {
      const uint32_t k = pick_key(rng);
      const std::string key = fmt::format("k{}", k);
      const uint32_t roll = pick_op(rng);
      client::Result result;
      // 35% get, 35% append, 15% put, 10% cas, 5% delete.
      if (roll < 35) {
        result = client.get(key);
        if (result.ok()) last_read[k] = result.value;
      } else if (roll < 70) {
        result = client.append(key, fmt::format("a{}.{};", index, n));
      } else if (roll < 85) {
        result = client.put(key, fmt::format("p{}.{}", index, n));
      } else if (roll < 95) {
        result = client.cas(key, last_read[k], fmt::format("s{}.{}", index, n));
      } else {
        result = client.del(key);
      }
      switch (result.status) {
        case client::Status::ok:
          ++ok_;
          break;
        case client::Status::cas_failed:
          ++cas_failed_;
          break;
        case client::Status::unknown:
          ++unknown_;
          break;
        case client::Status::rejected:
          ++rejected_;
          break;
      }
      if (options_.think.count() > 0) std::this_thread::sleep_for(options_.think);
    }
  } catch (...) {
    if (!have_error_.exchange(true)) error_ = std::current_exception();
  }
}

}  // namespace shmraft::launcher
