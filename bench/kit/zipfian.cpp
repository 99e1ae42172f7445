#include "bench/kit/zipfian.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace shmraft::bench {

namespace {

double zeta(uint64_t items, double theta) {
  double sum = 0;
  for (uint64_t i = 1; i <= items; ++i) sum += 1.0 / std::pow(static_cast<double>(i), theta);
  return sum;
}

}  // namespace

ZipfianGenerator::ZipfianGenerator(uint64_t items, double theta) : items_(items), theta_(theta) {
  if (items == 0) throw std::invalid_argument("a zipfian key space needs at least one key");
  if (!(theta > 0 && theta < 1)) throw std::invalid_argument("zipfian θ must be in (0, 1)");
  zeta_n_ = zeta(items, theta);
  alpha_ = 1.0 / (1.0 - theta);
  const double zeta_2 = zeta(2, theta);
  eta_ = (1.0 - std::pow(2.0 / static_cast<double>(items), 1.0 - theta)) / (1.0 - zeta_2 / zeta_n_);
  first_tail_u_ = (1.0 + std::pow(0.5, theta)) / zeta_n_;
}

double ZipfianGenerator::draw_probability(uint64_t rank) const noexcept {
  if (rank >= items_) return 0;
  if (rank < 2) return items_ == 1 ? 1.0 : probability(rank);
  // rank_of(u) = ⌊items · (η·u − η + 1)^α⌋ for u past the first two ranks: invert at rank and rank + 1.
  const auto u_at = [&](uint64_t r) {
    return (std::pow(static_cast<double>(r) / static_cast<double>(items_), 1.0 - theta_) - 1.0 + eta_) / eta_;
  };
  const double low = std::max(first_tail_u_, u_at(rank));
  const double high = rank + 1 == items_ ? 1.0 : std::min(1.0, u_at(rank + 1));
  return high > low ? high - low : 0;
}

double ZipfianGenerator::probability(uint64_t rank) const noexcept {
  return 1.0 / std::pow(static_cast<double>(rank + 1), theta_) / zeta_n_;
}

uint64_t ZipfianGenerator::rank_of(double u) const noexcept {
  const double uz = u * zeta_n_;
  if (uz < 1.0) return 0;
  if (u < first_tail_u_) return items_ > 1 ? 1 : 0;
  const auto rank =
      static_cast<uint64_t>(static_cast<double>(items_) * std::pow(eta_ * u - eta_ + 1.0, alpha_));
  return rank < items_ ? rank : items_ - 1;
}

}  // namespace shmraft::bench
