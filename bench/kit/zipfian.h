#pragma once
// YCSB's ZipfianGenerator (Gray et al., "Quickly generating billion-record synthetic databases", SIGMOD
// 1994, as in site.ycsb.generator.ZipfianGenerator): ranks 0..items-1, rank r drawn with probability
// close to (r+1)^-θ / ζ(items, θ), θ = 0.99 by default, so rank 0 is the hottest key. Ranks 0 and 1
// have their exact probabilities; the others follow Gray's closed-form approximation. ζ is summed once,
// at construction (O(items)); each draw is one uniform number and a pow().
#include <cstdint>
#include <random>

namespace shmraft::bench {

class ZipfianGenerator {
 public:
  static constexpr double kYcsbTheta = 0.99;

  // Throws std::invalid_argument for no items or θ outside (0, 1).
  explicit ZipfianGenerator(uint64_t items, double theta = kYcsbTheta);

  uint64_t items() const noexcept { return items_; }
  // The exact Zipf probability of `rank`, (rank+1)^-θ / ζ(items, θ), what the draws approximate.
  double probability(uint64_t rank) const noexcept;

  template <class Rng>
  uint64_t next(Rng& rng) const {
    return rank_of(std::uniform_real_distribution<double>(0.0, 1.0)(rng));
  }
  // The rank drawn for the uniform number u in [0, 1).
  uint64_t rank_of(double u) const noexcept;
  // The probability that a draw returns `rank`: the length of the u interval rank_of maps to it (what a
  // test compares drawn frequencies with; equals probability() for ranks 0 and 1).
  double draw_probability(uint64_t rank) const noexcept;

 private:
  uint64_t items_;
  double theta_;
  double zeta_n_;
  double alpha_;
  double eta_;
  double first_tail_u_;  // draws below this are ranks 0 and 1
};

}  // namespace shmraft::bench
