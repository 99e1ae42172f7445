#include "launcher/bench/failover_tap.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "ipc/clock.h"
#include "launcher/client/client.h"
#include "launcher/launcher_error.h"

namespace shmraft::bench {

namespace {

constexpr std::size_t kSequenceDigits = 16;

void add(std::atomic<uint64_t>& counter, uint64_t delta = 1) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

// The sequence number a value begins with; 0 for none (an absent key, or not a value of the load's).
uint64_t sequence_of(std::string_view value) {
  uint64_t sequence = 0;
  if (value.size() < kSequenceDigits) return 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + kSequenceDigits, sequence, 16);
  return error == std::errc{} && end == value.data() + kSequenceDigits ? sequence : 0;
}

}  // namespace

FailoverTap::FailoverTap(uint32_t clients, uint32_t pipeline, uint64_t slow_op_threshold_ns)
    : keys_per_client_(own_keys_per_client(clients)), slow_op_threshold_ns_(slow_op_threshold_ns) {
  for (uint32_t c = 0; c < clients; ++c) {
    auto client = std::make_unique<PerClient>();
    client->op_of_tag.assign(pipeline, 0);
    client->acked_seq.assign(keys_per_client_, 0);
    if (slow_op_threshold_ns_ != 0)
      client->slow_stamps = std::vector<std::atomic<uint64_t>>(kSlowOpCapacity * kSlowOpWords);
    clients_.push_back(std::move(client));
  }
}

void FailoverTap::submitting(uint32_t client, uint32_t tag, uint64_t op, std::string& value) {
  clients_[client]->op_of_tag[tag] = op;
  fmt::format_to_n(value.data(), kSequenceDigits, "{:016x}", op + 1);
}

void FailoverTap::completed(uint32_t client, uint32_t tag, uint64_t began_ns,
                            const client::Completion& done) {
  PerClient& c = *clients_[client];
  const uint64_t op = c.op_of_tag[tag];
  const auto key = static_cast<uint32_t>(op % keys_per_client_);
  const bool ok = done.status == client::Status::ok;
  if (ok) {
    c.acked_seq[key] = std::max(c.acked_seq[key], op + 1);
    add(c.acknowledged);
  } else if (done.status == client::Status::unknown) {
    c.doubtful.emplace_back(key, op + 1);
    add(c.in_doubt);
  } else {
    add(c.failed);
  }

  const uint32_t event = armed_event_.load(std::memory_order_acquire);
  if (event == 0) {
    if (ok && began_ns >= disarmed_ns_.load(std::memory_order_relaxed) &&
        done.phases.client_receive_ns > began_ns)
      c.quiet.record(done.phases.client_receive_ns - began_ns);
    return;
  }
  if (event != c.event_seen) start_event(c, event);
  const uint64_t signal_ns = armed_signal_ns_.load(std::memory_order_relaxed);
  const uint64_t now = ok ? done.phases.client_receive_ns : ipc::monotonic_ns();
  if (now < signal_ns) return;
  if (now > began_ns && now - began_ns > c.worst_ns.load(std::memory_order_relaxed)) {
    c.worst_ns.store(now - began_ns, std::memory_order_relaxed);
    c.worst_began_ns.store(began_ns, std::memory_order_relaxed);
  }
  if (!ok) {
    add(done.status == client::Status::unknown ? c.event_in_doubt : c.event_failed);
    return;
  }
  if (slow_op_threshold_ns_ != 0) keep_if_slow(c, began_ns, done);
  const uint32_t acks = c.acks.load(std::memory_order_relaxed);
  if (done.phases.commit_ns <= signal_ns || acks == kAckCapacity) return;
  c.ack_stamps[2 * acks].store(done.phases.commit_ns, std::memory_order_relaxed);
  c.ack_stamps[2 * acks + 1].store(done.phases.client_receive_ns, std::memory_order_relaxed);
  c.acks.store(acks + 1, std::memory_order_release);
}

void FailoverTap::keep_if_slow(PerClient& c, uint64_t began_ns, const client::Completion& done) noexcept {
  const client::Phases& p = done.phases;
  if (p.client_receive_ns <= began_ns || p.client_receive_ns - began_ns <= slow_op_threshold_ns_) return;
  const uint32_t kept = c.slow.load(std::memory_order_relaxed);
  if (kept == kSlowOpCapacity) {
    add(c.slow_dropped);
    return;
  }
  const std::array<uint64_t, kSlowOpWords> words{
      began_ns,    done.attempts, p.client_send_ns,   p.leader_receive_ns, p.leader_persist_ns,
      p.commit_ns, p.apply_ns,    p.client_receive_ns};
  for (std::size_t w = 0; w < kSlowOpWords; ++w)
    c.slow_stamps[kept * kSlowOpWords + w].store(words[w], std::memory_order_relaxed);
  c.slow.store(kept + 1, std::memory_order_release);
}

void FailoverTap::start_event(PerClient& c, uint32_t event) noexcept {
  c.worst_ns.store(0, std::memory_order_relaxed);
  c.worst_began_ns.store(0, std::memory_order_relaxed);
  c.event_failed.store(0, std::memory_order_relaxed);
  c.event_in_doubt.store(0, std::memory_order_relaxed);
  c.acks.store(0, std::memory_order_relaxed);
  c.slow.store(0, std::memory_order_relaxed);
  c.slow_dropped.store(0, std::memory_order_relaxed);
  c.event.store(event, std::memory_order_release);
  c.event_seen = event;
}

void FailoverTap::arm(uint32_t event, uint64_t signal_ns) noexcept {
  armed_signal_ns_.store(signal_ns, std::memory_order_relaxed);
  armed_event_.store(event, std::memory_order_release);
}

void FailoverTap::disarm() noexcept {
  disarmed_ns_.store(ipc::monotonic_ns(), std::memory_order_relaxed);
  armed_event_.store(0, std::memory_order_release);
}

Histogram FailoverTap::quiet() const {
  Histogram all = quiet_histogram();
  for (const auto& c : clients_) all.merge(c->quiet);
  return all;
}

template <typename Each>
void FailoverTap::for_each_in_event(uint32_t event, Each each) const noexcept {
  for (const auto& c : clients_)
    if (c->event.load(std::memory_order_acquire) == event) each(*c);
}

std::optional<uint64_t> FailoverTap::first_acknowledged(uint32_t event,
                                                        uint64_t committed_from_ns) const noexcept {
  std::optional<uint64_t> first;
  for_each_in_event(event, [&](const PerClient& c) {
    const uint32_t acks = c.acks.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < acks; ++i) {
      if (c.ack_stamps[2 * i].load(std::memory_order_relaxed) < committed_from_ns) continue;
      const uint64_t received = c.ack_stamps[2 * i + 1].load(std::memory_order_relaxed);
      if (!first || received < *first) first = received;
    }
  });
  return first;
}

FailoverTap::EventOps FailoverTap::event_ops(uint32_t event) const noexcept {
  EventOps ops;
  for_each_in_event(event, [&](const PerClient& c) {
    const uint64_t worst = c.worst_ns.load(std::memory_order_relaxed);
    if (worst > ops.worst_ns) {
      ops.worst_ns = worst;
      ops.worst_began_ns = c.worst_began_ns.load(std::memory_order_relaxed);
    }
    ops.failed += c.event_failed.load(std::memory_order_relaxed);
    ops.in_doubt += c.event_in_doubt.load(std::memory_order_relaxed);
  });
  return ops;
}

FailoverTap::SlowOps FailoverTap::slow_ops(uint32_t event) const {
  SlowOps slow;
  for_each_in_event(event, [&](const PerClient& c) {
    const uint32_t kept = c.slow.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < kept; ++i) {
      std::array<uint64_t, kSlowOpWords> w{};
      for (std::size_t k = 0; k < kSlowOpWords; ++k)
        w[k] = c.slow_stamps[i * kSlowOpWords + k].load(std::memory_order_relaxed);
      slow.ops.push_back(
          {w[0], static_cast<uint32_t>(w[1]), client::Phases{w[2], w[3], w[4], w[5], w[6], w[7]}});
    }
    slow.dropped += c.slow_dropped.load(std::memory_order_relaxed);
  });
  std::sort(slow.ops.begin(), slow.ops.end(),
            [](const SlowOp& a, const SlowOp& b) { return a.began_ns < b.began_ns; });
  return slow;
}

uint64_t FailoverTap::acknowledged() const noexcept {
  uint64_t sum = 0;
  for (const auto& c : clients_) sum += c->acknowledged.load(std::memory_order_relaxed);
  return sum;
}

uint64_t FailoverTap::failed() const noexcept {
  uint64_t sum = 0;
  for (const auto& c : clients_) sum += c->failed.load(std::memory_order_relaxed);
  return sum;
}

uint64_t FailoverTap::in_doubt() const noexcept {
  uint64_t sum = 0;
  for (const auto& c : clients_) sum += c->in_doubt.load(std::memory_order_relaxed);
  return sum;
}

FailoverTap::ReadBack FailoverTap::read_back(const std::string& cluster,
                                             client::TransportKind transport) const {
  client::ClientOptions options;
  options.transport = transport;
  client::Client reader(cluster, options);
  ReadBack result;
  for (uint32_t index = 0; index < clients_.size(); ++index) {
    const PerClient& c = *clients_[index];
    std::vector<std::pair<uint32_t, uint64_t>> doubtful = c.doubtful;
    std::sort(doubtful.begin(), doubtful.end());
    for (uint32_t key = 0; key < keys_per_client_; ++key) {
      if (c.acked_seq[key] == 0) continue;  // nothing acknowledged: nothing can be lost
      const std::string name = own_key(index, key);
      const client::Result got = reader.get(name);
      if (!got.ok())
        throw launcher::LauncherError(
            fmt::format("fail-over read-back: get {} failed ({})", name, client::to_string(got.status)));
      ++result.keys;
      const uint64_t sequence = got.found ? sequence_of(got.value) : 0;
      // A later put may have applied whatever its outcome; an earlier one only if its outcome was unknown.
      const bool in_doubt = std::binary_search(doubtful.begin(), doubtful.end(), std::pair{key, sequence});
      if (sequence < c.acked_seq[key] && !in_doubt) ++result.lost;
    }
  }
  return result;
}

}  // namespace shmraft::bench
