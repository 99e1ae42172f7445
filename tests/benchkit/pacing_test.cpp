#include "bench/kit/pacing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace shmraft::bench {
namespace {

TEST(OpenLoopSchedule, OpIsDueAtStartPlusIndexOverRate) {
  OpenLoopSchedule s(1000, 5'000);  // one op per ms
  EXPECT_EQ(s.intended_send_ns(0), 5'000u);
  EXPECT_EQ(s.intended_send_ns(1), 1'005'000u);
  EXPECT_EQ(s.intended_send_ns(10'000), 10'000'005'000u);
}

TEST(OpenLoopSchedule, FractionalPeriodsDoNotDrift) {
  OpenLoopSchedule s(3, 0);  // 333 333 333.3 ns apart
  EXPECT_EQ(s.intended_send_ns(3), 1'000'000'000u);
  EXPECT_EQ(s.intended_send_ns(3'000'000), 1'000'000'000'000'000u);
}

TEST(OpenLoopSchedule, OpsDueCountsEveryIntendedTimeAtOrBeforeNow) {
  OpenLoopSchedule s(7'777, 1'000);
  EXPECT_EQ(s.ops_due_by(0), 0u);
  EXPECT_EQ(s.ops_due_by(999), 0u);
  EXPECT_EQ(s.ops_due_by(1'000), 1u);
  for (uint64_t i = 0; i < 20'000; ++i) {
    const uint64_t t = s.intended_send_ns(i);
    ASSERT_EQ(s.ops_due_by(t), i + 1);
    ASSERT_EQ(s.ops_due_by(t - 1), i);
  }
}

TEST(OpenLoopSchedule, WaitUntilDue) {
  OpenLoopSchedule s(1e6, 0);
  EXPECT_EQ(s.ns_until(5, 2'000), 3'000u);
  EXPECT_EQ(s.ns_until(5, 9'000), 0u);
}

TEST(OpenLoopSchedule, ClientsShareTheRateEvenlySpaced) {
  const uint32_t clients = 4;
  std::vector<uint64_t> merged;
  for (uint32_t c = 0; c < clients; ++c) {
    const auto s = OpenLoopSchedule::for_client(1e6, 100, c, clients);
    EXPECT_DOUBLE_EQ(s.rate_ops_per_s(), 250'000);
    for (uint64_t i = 0; i < 1000; ++i) merged.push_back(s.intended_send_ns(i));
  }
  std::sort(merged.begin(), merged.end());
  for (std::size_t i = 0; i < merged.size(); ++i) EXPECT_EQ(merged[i], 100 + i * 1000) << i;
}

TEST(OpenLoopSchedule, RejectsImpossibleRates) {
  EXPECT_THROW(OpenLoopSchedule(0, 0), std::invalid_argument);
  EXPECT_THROW(OpenLoopSchedule(-5, 0), std::invalid_argument);
  EXPECT_THROW(OpenLoopSchedule(2e9, 0), std::invalid_argument);
  EXPECT_THROW(OpenLoopSchedule(0.0 / 0.0, 0), std::invalid_argument);
  EXPECT_THROW(OpenLoopSchedule::for_client(1000, 0, 4, 4), std::invalid_argument);
  EXPECT_THROW(OpenLoopSchedule::for_client(1000, 0, 0, 0), std::invalid_argument);
}

}  // namespace
}  // namespace shmraft::bench
