// The fail-over tap's slow operations (`bench --failover --slow-ops-us`), fed completions by hand with
// made-up stamps: only the acknowledged operations of the armed event slower than the threshold are
// kept, with their stamps, up to a fixed number per client (the rest counted), and a new event starts
// afresh. No cluster, no clock.
#include "launcher/bench/failover_tap.h"

#include <gtest/gtest.h>

#include <string>

#include "launcher/bench/failover_options.h"

namespace shmraft::bench {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSignal = 1'000 * kMs;  // the armed event's signal stamp
constexpr uint32_t kPipeline = 4;

// Sends operation `op` of `client` as tag 0 and completes it: begun at `began`, answered at `received`
// after `attempts` sends, its phases spread between (the attempt sent 10 µs after the begin, or at the
// begin with one attempt).
void complete(FailoverTap& tap, uint32_t client, uint64_t op, uint64_t began, uint64_t received,
              client::Status status = client::Status::ok, uint32_t attempts = 1) {
  std::string value(kFailoverMinPayload, 'x');
  tap.submitting(client, 0, op, value);
  client::Completion done;
  done.status = status;
  done.attempts = attempts;
  const uint64_t sent = attempts > 1 ? began + 10'000 : began;
  done.phases =
      client::Phases{sent, sent + 1'000, sent + 2'000, received - 3'000, received - 2'000, received};
  tap.completed(client, 0, began, done);
}

TEST(FailoverTapSlowOps, KeepsTheAcknowledgedOperationsOfTheArmedEventSlowerThanTheThreshold) {
  FailoverTap tap(2, kPipeline, 1 * kMs);
  complete(tap, 0, 0, kSignal - 50 * kMs, kSignal - 40 * kMs);  // slow, but no event armed
  tap.arm(1, kSignal);
  complete(tap, 0, 1, kSignal - 20 * kMs, kSignal - 10 * kMs);  // slow, answered before the signal
  complete(tap, 0, 2, kSignal + 1 * kMs, kSignal + 2 * kMs);    // exactly the threshold: not slower
  complete(tap, 0, 3, kSignal + 3 * kMs, kSignal + 3 * kMs + 500'000);
  complete(tap, 1, 0, kSignal + 5 * kMs, kSignal + 9 * kMs, client::Status::unknown);  // not acknowledged
  complete(tap, 1, 1, kSignal + 4 * kMs, kSignal + 6 * kMs, client::Status::ok, 2);
  complete(tap, 0, 4, kSignal - 2 * kMs, kSignal + 1 * kMs);  // in flight at the signal
  tap.disarm();
  complete(tap, 1, 2, kSignal + 90 * kMs, kSignal + 99 * kMs);  // slow, after the event

  const FailoverTap::SlowOps slow = tap.slow_ops(1);
  EXPECT_EQ(slow.dropped, 0u);
  ASSERT_EQ(slow.ops.size(), 2u);
  // By begin stamp, across clients.
  EXPECT_EQ(slow.ops[0].began_ns, kSignal - 2 * kMs);
  EXPECT_EQ(slow.ops[0].attempts, 1u);
  EXPECT_EQ(slow.ops[0].phases.client_send_ns, kSignal - 2 * kMs);
  EXPECT_EQ(slow.ops[0].phases.client_receive_ns, kSignal + 1 * kMs);
  const FailoverTap::SlowOp& resent = slow.ops[1];
  EXPECT_EQ(resent.began_ns, kSignal + 4 * kMs);
  EXPECT_EQ(resent.attempts, 2u);
  EXPECT_EQ(resent.phases.client_send_ns, kSignal + 4 * kMs + 10'000);
  EXPECT_EQ(resent.phases.leader_receive_ns, kSignal + 4 * kMs + 11'000);
  EXPECT_EQ(resent.phases.leader_persist_ns, kSignal + 4 * kMs + 12'000);
  EXPECT_EQ(resent.phases.commit_ns, kSignal + 6 * kMs - 3'000);
  EXPECT_EQ(resent.phases.apply_ns, kSignal + 6 * kMs - 2'000);
  EXPECT_EQ(resent.phases.client_receive_ns, kSignal + 6 * kMs);
}

TEST(FailoverTapSlowOps, KeepsAFixedNumberPerClientAndCountsTheRest) {
  FailoverTap tap(2, kPipeline, 1 * kMs);
  tap.arm(1, kSignal);
  const uint32_t extra = 5;
  for (uint64_t op = 0; op < FailoverTap::kSlowOpCapacity + extra; ++op)
    complete(tap, 0, op, kSignal + op * kMs, kSignal + op * kMs + 2 * kMs);
  complete(tap, 1, 0, kSignal, kSignal + 2 * kMs);  // the other client has room of its own
  const FailoverTap::SlowOps slow = tap.slow_ops(1);
  EXPECT_EQ(slow.ops.size(), FailoverTap::kSlowOpCapacity + 1);
  EXPECT_EQ(slow.dropped, extra);
  // The first ones are kept, not the last.
  EXPECT_EQ(slow.ops.back().began_ns, kSignal + (FailoverTap::kSlowOpCapacity - 1) * kMs);
}

TEST(FailoverTapSlowOps, ANewEventStartsAfresh) {
  FailoverTap tap(1, kPipeline, 1 * kMs);
  tap.arm(1, kSignal);
  for (uint64_t op = 0; op < FailoverTap::kSlowOpCapacity + 1; ++op)
    complete(tap, 0, op, kSignal, kSignal + 2 * kMs);
  EXPECT_EQ(tap.slow_ops(1).dropped, 1u);
  tap.disarm();
  complete(tap, 0, 100, kSignal + 10 * kMs, kSignal + 20 * kMs);  // between events

  const uint64_t second = kSignal + 1'000 * kMs;
  tap.arm(2, second);
  complete(tap, 0, 101, second + 1 * kMs, second + 3 * kMs);
  const FailoverTap::SlowOps slow = tap.slow_ops(2);
  ASSERT_EQ(slow.ops.size(), 1u);
  EXPECT_EQ(slow.ops[0].began_ns, second + 1 * kMs);
  EXPECT_EQ(slow.dropped, 0u);
  EXPECT_TRUE(tap.slow_ops(1).ops.empty()) << "the client's figures now belong to event 2";
}

TEST(FailoverTapSlowOps, NoneWithoutAThreshold) {
  FailoverTap tap(1, kPipeline);
  tap.arm(1, kSignal);
  complete(tap, 0, 0, kSignal, kSignal + 500 * kMs);
  const FailoverTap::SlowOps slow = tap.slow_ops(1);
  EXPECT_TRUE(slow.ops.empty());
  EXPECT_EQ(slow.dropped, 0u);
  EXPECT_EQ(tap.event_ops(1).worst_ns, 500 * kMs) << "the event itself is still recorded";
}

}  // namespace
}  // namespace shmraft::bench
