#pragma once
// The fail-over benchmark's view of the load (a LoadObserver), per client thread and without a lock:
//   - every put's value begins with its sequence number (16 hex digits); the last acknowledged one per
//     key and the puts whose outcome is unknown are kept, so read_back() can tell whether an
//     acknowledged write was lost;
//   - while an event is armed: the first acknowledgements committed after the signal (their commit and
//     receive stamps), the slowest operation that completed, the operations failed or in doubt, and
//     (with a slow-operation threshold) the stamps of each acknowledged operation slower than it;
//   - while none is: the latency of every operation begun after the last event ended (quiet()).
// An "event" here is any window the driver records: a fail-over's, or its control's (the same load with
// no event, failover_driver.h), each with a number of its own.
//
// The driver arms event n with its signal stamp (a control: its start) before it signals; each client
// starts event n's figures afresh at its first completion after that. The driver reads a client's figures
// only when they belong to the event armed, and arms the next event only after reading: figures are never
// read while reset.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench/kit/histogram.h"
#include "launcher/bench/client_load.h"
#include "launcher/client/client_channel.h"
#include "launcher/client/client_types.h"

namespace shmraft::bench {

class FailoverTap final : public LoadObserver {
 public:
  // `slow_op_threshold_ns` > 0: keep the acknowledged operations of each event that took longer
  // (slow_ops()); their room is taken here, none on the completion path.
  FailoverTap(uint32_t clients, uint32_t pipeline, uint64_t slow_op_threshold_ns = 0);

  void submitting(uint32_t client, uint32_t tag, uint64_t op, std::string& value) override;
  void completed(uint32_t client, uint32_t tag, uint64_t began_ns, const client::Completion& done) override;

  // Event `event` (> 0) began at `signal_ns`; disarm() ends the recording.
  void arm(uint32_t event, uint64_t signal_ns) noexcept;
  void disarm() noexcept;

  // The earliest client receive stamp of a write of event `event` committed at or after
  // `committed_from_ns` (the leader's stamp); nullopt while there is none.
  std::optional<uint64_t> first_acknowledged(uint32_t event, uint64_t committed_from_ns) const noexcept;

  struct EventOps {
    uint64_t worst_ns = 0;        // the slowest operation that completed since the signal
    uint64_t worst_began_ns = 0;  // its begin stamp (CLOCK_MONOTONIC; before the signal if it was in flight)
    uint64_t failed = 0;
    uint64_t in_doubt = 0;
  };
  EventOps event_ops(uint32_t event) const noexcept;

  // Slow operations kept per client and event; more are only counted.
  static constexpr uint32_t kSlowOpCapacity = 32;
  struct SlowOp {
    uint64_t began_ns = 0;  // the latency's start (CLOCK_MONOTONIC)
    uint32_t attempts = 0;  // sends, including retries
    client::Phases phases;  // of the attempt that was answered
  };
  struct SlowOps {
    std::vector<SlowOp> ops;  // by begin stamp
    uint64_t dropped = 0;     // slow, but past a client's capacity
  };
  // The acknowledged operations of event `event` slower than the threshold, completed since its signal.
  SlowOps slow_ops(uint32_t event) const;

  // Once the load's threads have ended: the latencies of the operations acknowledged between events.
  Histogram quiet() const;

  // The whole load so far.
  uint64_t acknowledged() const noexcept;
  uint64_t failed() const noexcept;
  uint64_t in_doubt() const noexcept;

  struct ReadBack {
    uint64_t keys = 0;
    uint64_t lost = 0;  // keys whose value is older than their last acknowledged write (and in doubt)
  };
  // Once the load's threads have ended: reads every key written from the running cluster `cluster`, with
  // a client speaking its `transport`. Throws launcher::LauncherError when a read fails.
  ReadBack read_back(const std::string& cluster, client::TransportKind transport) const;

 private:
  static constexpr uint32_t kAckCapacity = 64;  // first acknowledgements kept per client and event
  // One significant digit (buckets within ~6 %), up to a minute: ~4 KiB each, as there may be thousands
  // of clients.
  static Histogram quiet_histogram() { return Histogram(1, 60'000'000'000); }
  // A slow operation's stamps, as atomics: begin, attempts, then the six of client::Phases.
  static constexpr std::size_t kSlowOpWords = 8;

  struct alignas(64) PerClient {
    // The client thread's own.
    std::vector<uint64_t> op_of_tag;
    std::vector<uint64_t> acked_seq;                      // by key: last acknowledged sequence, 0 = none
    std::vector<std::pair<uint32_t, uint64_t>> doubtful;  // (key, sequence) of puts with unknown outcome
    uint32_t event_seen = 0;
    Histogram quiet = quiet_histogram();
    // Read by the driver.
    std::atomic<uint64_t> acknowledged{0}, failed{0}, in_doubt{0};
    std::atomic<uint32_t> event{0};  // the event the figures below belong to
    std::atomic<uint64_t> worst_ns{0}, worst_began_ns{0}, event_failed{0}, event_in_doubt{0};
    std::atomic<uint32_t> acks{0};
    std::array<std::atomic<uint64_t>, 2 * kAckCapacity> ack_stamps{};  // commit, receive
    std::atomic<uint32_t> slow{0};
    std::atomic<uint64_t> slow_dropped{0};
    std::vector<std::atomic<uint64_t>> slow_stamps;  // kSlowOpWords each; empty without a threshold
  };

  void keep_if_slow(PerClient& c, uint64_t began_ns, const client::Completion& done) noexcept;

  void start_event(PerClient& c, uint32_t event) noexcept;
  template <typename Each>
  void for_each_in_event(uint32_t event, Each each) const noexcept;

  uint32_t keys_per_client_;  // own_keys_per_client(clients)
  uint64_t slow_op_threshold_ns_;
  std::vector<std::unique_ptr<PerClient>> clients_;
  std::atomic<uint32_t> armed_event_{0};
  std::atomic<uint64_t> armed_signal_ns_{0};
  std::atomic<uint64_t> disarmed_ns_{0};  // when the last event ended
};

}  // namespace shmraft::bench
