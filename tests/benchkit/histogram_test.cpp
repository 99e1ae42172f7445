#include "bench/kit/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace shmraft::bench {
namespace {

// Randomized tests take SHMRAFT_TEST_SEED from the environment when set, so a failure can be replayed.
uint64_t test_seed() {
  if (const char* env = std::getenv("SHMRAFT_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

std::string replay_hint(uint64_t seed) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return "seed " + std::to_string(seed) + "; replay: SHMRAFT_TEST_SEED=" + std::to_string(seed) +
         " benchkit_test --gtest_filter='" + info->test_suite_name() + "." + info->name() + "'";
}

using Sampler = std::function<uint64_t(std::mt19937_64&)>;

struct Distribution {
  const char* name;
  Sampler sample;
};

std::vector<Distribution> distributions() {
  return {
      {"uniform 1..1e6",
       [](auto& rng) { return std::uniform_int_distribution<uint64_t>(1, 1'000'000)(rng); }},
      {"log-normal ~2us",
       [](auto& rng) {
         return static_cast<uint64_t>(std::lognormal_distribution<double>(std::log(2000.0), 0.7)(rng)) + 1;
       }},
      {"exponential mean 50us",
       [](auto& rng) {
         return static_cast<uint64_t>(std::exponential_distribution<double>(1.0 / 50'000)(rng)) + 1;
       }},
      {"bimodal 300ns / 80us",
       [](auto& rng) {
         const bool slow = std::bernoulli_distribution(0.02)(rng);
         return static_cast<uint64_t>(
             std::normal_distribution<double>(slow ? 80'000 : 300, slow ? 5'000 : 20)(rng));
       }},
      {"pareto tail",
       [](auto& rng) {
         const double u = std::uniform_real_distribution<double>(1e-12, 1.0)(rng);
         return static_cast<uint64_t>(500.0 / std::pow(u, 1.0 / 1.2));
       }},
      {"log-uniform 1ns..1h",
       [](auto& rng) {
         const double e = std::uniform_real_distribution<double>(0, std::log10(3.6e12))(rng);
         return static_cast<uint64_t>(std::pow(10.0, e));
       }},
      {"constant 777", [](auto&) { return uint64_t{777}; }},
  };
}

class HistogramAccuracy : public ::testing::TestWithParam<int> {};

// Every percentile lies within 10^-digits of the exact nearest-rank sample, and is never below it.
TEST_P(HistogramAccuracy, PercentilesMatchSortedSamplesWithinTheRelativeError) {
  const int digits = GetParam();
  const double tolerance = std::pow(10.0, -digits);
  const uint64_t seed = test_seed();
  SCOPED_TRACE(replay_hint(seed));
  std::mt19937_64 rng(seed);
  for (const Distribution& d : distributions()) {
    SCOPED_TRACE(d.name);
    Histogram h(digits);
    std::vector<uint64_t> samples(20'000);
    for (auto& s : samples) {
      s = std::min<uint64_t>(d.sample(rng), Histogram::kOneHourNs);
      h.record(s);
    }
    std::sort(samples.begin(), samples.end());
    ASSERT_EQ(h.count(), samples.size());
    EXPECT_EQ(h.min(), samples.front());
    EXPECT_EQ(h.max(), samples.back());
    EXPECT_EQ(h.saturated_count(), 0u);
    long double exact_sum = 0;
    for (uint64_t s : samples) exact_sum += s;
    EXPECT_NEAR(h.mean(), static_cast<double>(exact_sum / samples.size()), 1e-9 * h.mean());
    for (double p : {0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
      const auto rank =
          std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(p / 100 * samples.size() - 1e-9)));
      const uint64_t exact = samples[rank - 1];
      const uint64_t reported = h.value_at_percentile(p);
      EXPECT_GE(reported, exact) << "p" << p;
      EXPECT_LE(static_cast<double>(reported - exact), tolerance * static_cast<double>(exact)) << "p" << p;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Digits, HistogramAccuracy, ::testing::Values(1, 2, 3, 4));

TEST(Histogram, BucketsTileTheRangeWithBoundedWidth) {
  for (int digits = 1; digits <= 3; ++digits) {
    Histogram h(digits);
    const double tolerance = std::pow(10.0, -digits);
    for (std::size_t i = 0; i < h.bucket_count(); ++i) {
      const uint64_t low = h.lowest_equivalent(i);
      const uint64_t high = h.highest_equivalent(i);
      ASSERT_EQ(h.index_of(low), i);
      ASSERT_EQ(h.index_of(high), i);
      if (i + 1 < h.bucket_count()) {
        ASSERT_EQ(h.lowest_equivalent(i + 1), high + 1);
      }
      if (low > 0) {
        ASSERT_LE(static_cast<double>(high - low), tolerance * static_cast<double>(low));
      }
    }
  }
}

TEST(Histogram, CoversOneNanosecondToOneHourInFixedMemory) {
  Histogram h;
  const std::size_t buckets = h.bucket_count();
  h.record(1);
  h.record(Histogram::kOneHourNs);
  EXPECT_EQ(h.saturated_count(), 0u);
  EXPECT_EQ(h.value_at_percentile(0), 1u);
  EXPECT_EQ(h.value_at_percentile(100), Histogram::kOneHourNs);
  EXPECT_EQ(h.bucket_count(), buckets);
  EXPECT_LT(h.memory_bytes(), 64u * 1024);
}

TEST(Histogram, ValuesBeyondTheRangeAreCountedAsSaturatedWithTheTrueMax) {
  Histogram h(2, 1'000'000);
  h.record(10);
  h.record(5'000'000);
  EXPECT_EQ(h.saturated_count(), 1u);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.max(), 5'000'000u);
  EXPECT_EQ(h.value_at_percentile(100), 5'000'000u);
}

TEST(Histogram, EmptyReportsZeros) {
  Histogram h;
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.value_at_percentile(50), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_TRUE(h.cdf().empty());
}

TEST(Histogram, RejectsBadLayouts) {
  EXPECT_THROW(Histogram(0), std::invalid_argument);
  EXPECT_THROW(Histogram(5), std::invalid_argument);
  EXPECT_THROW(Histogram(2, 1), std::invalid_argument);
}

TEST(Histogram, WeightedRecordEqualsRepeatedRecords) {
  Histogram a, b;
  a.record(1234, 5);
  for (int i = 0; i < 5; ++i) b.record(1234);
  EXPECT_EQ(a, b);
}

TEST(Histogram, MergeEqualsRecordingEverythingInOne) {
  const uint64_t seed = test_seed();
  SCOPED_TRACE(replay_hint(seed));
  std::mt19937_64 rng(seed);
  Histogram all, left, right;
  for (int i = 0; i < 50'000; ++i) {
    const uint64_t v = std::uniform_int_distribution<uint64_t>(1, 10'000'000)(rng);
    all.record(v);
    (i % 3 ? left : right).record(v);
  }
  left.merge(right);
  EXPECT_EQ(left, all);
  Histogram empty;
  left.merge(empty);
  EXPECT_EQ(left, all);
}

TEST(Histogram, MergeOfDifferentLayoutsIsAnError) {
  Histogram a(2), b(3), c(2, 1'000'000);
  EXPECT_THROW(a.merge(b), std::invalid_argument);
  EXPECT_THROW(a.merge(c), std::invalid_argument);
}

TEST(Histogram, ResetForgetsEverything) {
  Histogram h;
  h.record(5);
  h.record(5'000'000'000'000ULL);
  h.reset();
  EXPECT_EQ(h, Histogram());
}

TEST(Histogram, CdfIsMonotonicAndEndsAtOne) {
  Histogram h;
  for (uint64_t v = 1; v < 100'000; v = v * 3 / 2 + 1) h.record(v, v % 7 + 1);
  const auto cdf = h.cdf();
  ASSERT_FALSE(cdf.empty());
  for (std::size_t i = 1; i < cdf.size(); ++i) {
    EXPECT_GT(cdf[i].value_ns, cdf[i - 1].value_ns);
    EXPECT_GT(cdf[i].fraction, cdf[i - 1].fraction);
  }
  EXPECT_DOUBLE_EQ(cdf.back().fraction, 1.0);
  EXPECT_EQ(cdf.back().value_ns, h.max());
}

TEST(HistogramSerialization, RoundTripsExactly) {
  const uint64_t seed = test_seed();
  SCOPED_TRACE(replay_hint(seed));
  std::mt19937_64 rng(seed);
  for (int digits = 1; digits <= 4; ++digits) {
    Histogram h(digits, 10 * Histogram::kOneHourNs);
    for (int i = 0; i < 10'000; ++i)
      h.record(std::uniform_int_distribution<uint64_t>(0, 1ULL << 44)(rng), 1 + i % 3);
    h.record(UINT64_MAX);  // saturated, and a sum beyond 64 bits
    const std::string bytes = h.serialize();
    EXPECT_EQ(Histogram::deserialize(bytes), h);
  }
  EXPECT_EQ(Histogram::deserialize(Histogram().serialize()), Histogram());
}

TEST(HistogramSerialization, IsCompactForLatencyDistributions) {
  std::mt19937_64 rng(1);
  Histogram h;
  std::lognormal_distribution<double> d(std::log(2000.0), 0.5);
  for (int i = 0; i < 1'000'000; ++i) h.record(static_cast<uint64_t>(d(rng)));
  // A gap byte and at most three count bytes per non-empty bucket, against ~36 KiB in memory.
  EXPECT_LE(h.serialize().size(), 64 + 4 * h.cdf().size());
  EXPECT_LT(h.serialize().size(), 4096u);
}

TEST(HistogramSerialization, RejectsMalformedInputWithAClearError) {
  Histogram h;
  for (uint64_t v = 1; v < 1'000'000; v *= 3) h.record(v);
  const std::string good = h.serialize();
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_THROW(Histogram::deserialize(good.substr(0, cut)), std::invalid_argument) << "cut at " << cut;
  }
  std::string bad = good;
  bad[0] = 'X';
  try {
    Histogram::deserialize(bad);
    FAIL() << "bad magic accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("magic"), std::string::npos) << e.what();
  }
  bad = good;
  bad[4] = 9;
  EXPECT_THROW(Histogram::deserialize(bad), std::invalid_argument);
  EXPECT_THROW(Histogram::deserialize(good + "x"), std::invalid_argument);
}

// Random corruption either throws std::invalid_argument or yields a consistent histogram: never a crash or an
// out-of-bounds access (the ASan build runs this).
TEST(HistogramSerialization, SurvivesRandomCorruption) {
  const uint64_t seed = test_seed();
  SCOPED_TRACE(replay_hint(seed));
  std::mt19937_64 rng(seed);
  Histogram h;
  for (uint64_t v = 1; v < 1'000'000'000; v = v * 5 / 4 + 1) h.record(v, v % 5 + 1);
  const std::string good = h.serialize();
  for (int trial = 0; trial < 5'000; ++trial) {
    std::string bytes = good;
    const int flips = 1 + trial % 4;
    for (int f = 0; f < flips; ++f) {
      bytes[std::uniform_int_distribution<std::size_t>(0, bytes.size() - 1)(rng)] ^=
          static_cast<char>(1 << std::uniform_int_distribution<int>(0, 7)(rng));
    }
    try {
      const Histogram parsed = Histogram::deserialize(bytes);
      EXPECT_LE(parsed.cdf().size(), parsed.bucket_count());
      EXPECT_LE(parsed.value_at_percentile(99), parsed.max());
    } catch (const std::invalid_argument&) {
    }
  }
}

}  // namespace
}  // namespace shmraft::bench
