#pragma once
// A high-dynamic-range latency histogram in the manner of HdrHistogram (no Debian package exists for it).
//
// Log-linear buckets: values below `sub_bucket_count` are counted exactly; above, each power-of-two range
// is split into sub_bucket_count/2 equal buckets, so a bucket is never wider than 2/sub_bucket_count of
// its lowest value. With `significant_digits` = d, sub_bucket_count = the power of two >= 2·10^d, so
// every reported value is within 10^-d of the true one (d = 2: <= 0.78 %, d = 3: <= 0.1 %).
//
// Memory is fixed at construction (about 36 KiB for d = 2 and a 1 h range); record() is O(1), takes a
// few nanoseconds and never allocates, so it can sit on a benchmark client's hot path. Min, max, count and
// the mean are exact; percentiles report the highest value equivalent to the sample's bucket (clamped to
// [min, max]), so latency is never understated.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shmraft::bench {

// One point of a cumulative distribution: the fraction of samples <= value_ns.
struct CdfPoint {
  uint64_t value_ns;
  double fraction;
};

class Histogram {
 public:
  static constexpr uint64_t kOneHourNs = 3'600'000'000'000ULL;

  // Tracks values from 1 ns to `highest_trackable_ns` (>= 2 ns); larger values are counted in the top
  // bucket and reported by saturated_count() (max() still reports the true maximum).
  // `significant_digits` must be 1..4.
  explicit Histogram(int significant_digits = 2, uint64_t highest_trackable_ns = kOneHourNs);

  void record(uint64_t value_ns) noexcept { record(value_ns, 1); }
  void record(uint64_t value_ns, uint64_t count) noexcept {
    if (value_ns > highest_trackable_) {
      saturated_ += count;
      add_to_bucket(highest_trackable_, count);
    } else {
      add_to_bucket(value_ns, count);
    }
    if (value_ns < min_) min_ = value_ns;
    if (value_ns > max_) max_ = value_ns;
    total_ += count;
    sum_ += static_cast<unsigned __int128>(value_ns) * count;
  }

  // Adds every sample of `other`; throws std::invalid_argument unless both have the same layout.
  void merge(const Histogram& other);
  void reset() noexcept;

  uint64_t count() const noexcept { return total_; }
  bool empty() const noexcept { return total_ == 0; }
  uint64_t min() const noexcept { return total_ ? min_ : 0; }
  uint64_t max() const noexcept { return max_; }
  double mean() const noexcept;
  uint64_t saturated_count() const noexcept { return saturated_; }

  // The value below or at which `percentile` % of the samples lie (0 -> min, 100 -> max, 0 if empty).
  uint64_t value_at_percentile(double percentile) const noexcept;

  // One point per non-empty bucket, at the bucket's highest equivalent value, ascending.
  std::vector<CdfPoint> cdf() const;

  // Compact binary form (header + varint gap/count of each non-empty bucket): about 2 KiB for a million
  // log-normal latencies, against ~36 KiB in memory. deserialize() throws std::invalid_argument naming what
  // is wrong (magic, version, truncation, layout) for malformed input.
  std::string serialize() const;
  static Histogram deserialize(std::string_view bytes);

  int significant_digits() const noexcept { return digits_; }
  uint64_t highest_trackable() const noexcept { return highest_trackable_; }
  std::size_t bucket_count() const noexcept { return counts_.size(); }
  std::size_t memory_bytes() const noexcept { return sizeof(*this) + counts_.capacity() * sizeof(uint64_t); }

  // Bucket arithmetic, exposed for tests: the index of a value and the value range of an index.
  std::size_t index_of(uint64_t value_ns) const noexcept {
    // Values below sub_bucket_count share shift 0 (exact); each doubling above adds one to the shift.
    const int magnitude = 63 - __builtin_clzll(value_ns | sub_bucket_mask_);
    const int shift = magnitude - (sub_bucket_bits_ - 1);
    return (static_cast<std::size_t>(shift) << (sub_bucket_bits_ - 1)) + (value_ns >> shift);
  }
  uint64_t lowest_equivalent(std::size_t index) const noexcept;
  uint64_t highest_equivalent(std::size_t index) const noexcept;

  friend bool operator==(const Histogram& a, const Histogram& b) noexcept;

 private:
  void add_to_bucket(uint64_t value_ns, uint64_t count) noexcept { counts_[index_of(value_ns)] += count; }
  uint64_t clamp_to_range(uint64_t value) const noexcept;

  int digits_;
  int sub_bucket_bits_;       // log2(sub_bucket_count)
  uint64_t sub_bucket_mask_;  // sub_bucket_count - 1
  uint64_t highest_trackable_;
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t saturated_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  unsigned __int128 sum_ = 0;  // exact mean even for hours-long samples
};

}  // namespace shmraft::bench
