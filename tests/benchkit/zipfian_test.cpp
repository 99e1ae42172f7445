// YCSB's zipfian generator: drawn rank frequencies against the probabilities its formula gives each
// rank, and those against Zipf's law itself (exact for the two hottest ranks, close for the rest).
#include "bench/kit/zipfian.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "tests/test_seed.h"

namespace shmraft::bench {
namespace {

TEST(Zipfian, DrawnRankFrequenciesMatchTheGeneratorsProbabilities) {
  const uint64_t seed = testing::announce_seed();
  SCOPED_TRACE(testing::replay_command(seed));
  constexpr uint64_t kItems = 1000;
  constexpr uint64_t kDraws = 2'000'000;
  const ZipfianGenerator zipf(kItems);
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> counts(kItems, 0);
  for (uint64_t i = 0; i < kDraws; ++i) {
    const uint64_t rank = zipf.next(rng);
    ASSERT_LT(rank, kItems);
    ++counts[rank];
  }
  double total = 0;
  for (uint64_t rank = 0; rank < kItems; ++rank) total += zipf.draw_probability(rank);
  EXPECT_NEAR(total, 1.0, 1e-9);
  // The 20 hottest ranks one by one, within 5 standard deviations of a binomial count.
  for (uint64_t rank = 0; rank < 20; ++rank) {
    const double p = zipf.draw_probability(rank);
    const double expected = p * kDraws, sigma = std::sqrt(kDraws * p * (1 - p));
    EXPECT_NEAR(static_cast<double>(counts[rank]), expected, 5 * sigma) << "rank " << rank;
  }
}

TEST(Zipfian, FollowsZipfsLawWithThetaPoint99) {
  const ZipfianGenerator zipf(10'000);
  // Ranks 0 and 1 are exact; the closed form for the others stays within 20 % of (r+1)^-θ / ζ.
  EXPECT_DOUBLE_EQ(zipf.draw_probability(0), zipf.probability(0));
  EXPECT_DOUBLE_EQ(zipf.draw_probability(1), zipf.probability(1));
  for (uint64_t rank : {2, 3, 5, 10, 100, 1000, 9999})
    EXPECT_NEAR(zipf.draw_probability(rank) / zipf.probability(rank), 1.0, 0.2) << "rank " << rank;
  // θ = 0.99: rank 0 about twice as likely as rank 1, ten times rank 9.
  EXPECT_NEAR(zipf.probability(0) / zipf.probability(1), std::pow(2.0, 0.99), 1e-9);
  EXPECT_NEAR(zipf.probability(0) / zipf.probability(9), std::pow(10.0, 0.99), 1e-9);
}

TEST(Zipfian, OneItemAndBadParametersAreHandled) {
  const ZipfianGenerator one(1);
  std::mt19937_64 rng(1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(one.next(rng), 0u);
  EXPECT_DOUBLE_EQ(one.draw_probability(0), 1.0);
  EXPECT_THROW(ZipfianGenerator(0), std::invalid_argument);
  EXPECT_THROW(ZipfianGenerator(10, 1.0), std::invalid_argument);
}

}  // namespace
}  // namespace shmraft::bench
