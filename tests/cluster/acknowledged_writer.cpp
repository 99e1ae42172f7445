#include "tests/cluster/acknowledged_writer.h"

#include <fmt/format.h>

#include "launcher/client/client.h"

namespace shmraft::cluster_test {

AcknowledgedWriter::AcknowledgedWriter(const std::string& cluster, std::string key_prefix)
    : key_prefix_(std::move(key_prefix)), thread_([this, cluster] { run(cluster); }) {}

void AcknowledgedWriter::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::size_t AcknowledgedWriter::acknowledged() {
  std::lock_guard lock(mutex_);
  return log_.size();
}

std::map<std::string, std::string> AcknowledgedWriter::values() {
  std::lock_guard lock(mutex_);
  return values_;
}

std::optional<Acknowledged> AcknowledgedWriter::first_after(uint64_t since_ns, uint32_t old_leader) {
  std::lock_guard lock(mutex_);
  std::optional<Acknowledged> first;
  for (auto it = log_.rbegin(); it != log_.rend() && it->commit_ns > since_ns; ++it)
    if (it->leader != old_leader) first = *it;
  return first;
}

void AcknowledgedWriter::run(const std::string& cluster) {
  client::Client client(cluster);
  for (uint64_t i = 0; !stop_; ++i) {
    const std::string key = fmt::format("{}{}", key_prefix_, i);
    const std::string value = fmt::format("v{}", i);
    const client::Result result = client.put(key, value);
    if (!result.ok()) {
      ++in_doubt_;
      continue;
    }
    std::lock_guard lock(mutex_);
    log_.push_back({result.phases.commit_ns, result.phases.client_receive_ns, client.async().leader()});
    values_[key] = value;
  }
}

}  // namespace shmraft::cluster_test
