#include "bench/kit/histogram.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace shmraft::bench {

namespace {

constexpr char kMagic[4] = {'S', 'R', 'H', 'G'};
constexpr uint8_t kFormatVersion = 1;

int sub_bucket_bits_for(int significant_digits) {
  if (significant_digits < 1 || significant_digits > 4) {
    throw std::invalid_argument("histogram: significant digits must be 1..4, got " +
                                std::to_string(significant_digits));
  }
  uint64_t needed = 2;
  for (int i = 0; i < significant_digits; ++i) needed *= 10;
  int bits = 0;
  while ((uint64_t{1} << bits) < needed) ++bits;
  return bits;
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  uint8_t byte(const char* what) {
    if (pos_ >= bytes_.size()) fail(std::string("truncated before ") + what);
    return static_cast<uint8_t>(bytes_[pos_++]);
  }
  uint64_t varint(const char* what) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = byte(what);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail(std::string("over-long varint in ") + what);
  }
  bool at_end() const { return pos_ == bytes_.size(); }
  [[noreturn]] static void fail(const std::string& why) {
    throw std::invalid_argument("histogram deserialize: " + why);
  }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

}  // namespace

Histogram::Histogram(int significant_digits, uint64_t highest_trackable_ns)
    : digits_(significant_digits),
      sub_bucket_bits_(sub_bucket_bits_for(significant_digits)),
      sub_bucket_mask_((uint64_t{1} << sub_bucket_bits_) - 1),
      highest_trackable_(highest_trackable_ns) {
  if (highest_trackable_ns < 2) {
    throw std::invalid_argument("histogram: highest trackable value must be >= 2 ns");
  }
  counts_.assign(index_of(highest_trackable_) + 1, 0);
}

uint64_t Histogram::lowest_equivalent(std::size_t index) const noexcept {
  const std::size_t half = std::size_t{1} << (sub_bucket_bits_ - 1);
  if (index < 2 * half) return index;  // exact region
  const std::size_t shift = index / half - 1;
  return static_cast<uint64_t>(index - shift * half) << shift;
}

uint64_t Histogram::highest_equivalent(std::size_t index) const noexcept {
  const std::size_t half = std::size_t{1} << (sub_bucket_bits_ - 1);
  if (index < 2 * half) return index;
  const std::size_t shift = index / half - 1;
  return lowest_equivalent(index) + ((uint64_t{1} << shift) - 1);
}

uint64_t Histogram::clamp_to_range(uint64_t value) const noexcept {
  return std::clamp(value, min(), max_);
}

void Histogram::merge(const Histogram& other) {
  if (other.digits_ != digits_ || other.highest_trackable_ != highest_trackable_) {
    throw std::invalid_argument("histogram merge: layouts differ (" + std::to_string(digits_) +
                                " digits up to " + std::to_string(highest_trackable_) + " ns vs " +
                                std::to_string(other.digits_) + " digits up to " +
                                std::to_string(other.highest_trackable_) + " ns)");
  }
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
  saturated_ += other.saturated_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void Histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
  saturated_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

double Histogram::mean() const noexcept {
  return total_ ? static_cast<double>(sum_) / static_cast<double>(total_) : 0.0;
}

uint64_t Histogram::value_at_percentile(double percentile) const noexcept {
  if (total_ == 0) return 0;
  if (!(percentile > 0)) return min();  // also catches NaN
  if (percentile >= 100) return max_;
  // Nearest rank, ceil(p/100 · N), in integer arithmetic (p in units of 1e-7 %), so that 99.9 % of 1000
  // samples is rank 999 and not 1000 through a floating-point rounding.
  const auto units = static_cast<unsigned __int128>(std::llround(percentile * 1e7));
  const unsigned __int128 scaled = units * total_;
  const unsigned __int128 denominator = 1'000'000'000;
  const auto rank =
      static_cast<uint64_t>(std::max<unsigned __int128>(1, (scaled + denominator - 1) / denominator));
  uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    cumulative += counts_[i];
    if (cumulative >= rank) return clamp_to_range(highest_equivalent(i));
  }
  return max_;
}

std::vector<CdfPoint> Histogram::cdf() const {
  std::vector<CdfPoint> points;
  uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    cumulative += counts_[i];
    points.push_back({clamp_to_range(highest_equivalent(i)),
                      static_cast<double>(cumulative) / static_cast<double>(total_)});
  }
  return points;
}

std::string Histogram::serialize() const {
  std::string out(kMagic, sizeof kMagic);
  out.push_back(static_cast<char>(kFormatVersion));
  out.push_back(static_cast<char>(digits_));
  put_varint(out, highest_trackable_);
  put_varint(out, total_);
  put_varint(out, saturated_);
  put_varint(out, min_);
  put_varint(out, max_);
  put_varint(out, static_cast<uint64_t>(sum_));
  put_varint(out, static_cast<uint64_t>(sum_ >> 64));
  const auto non_empty =
      static_cast<uint64_t>(std::count_if(counts_.begin(), counts_.end(), [](uint64_t c) { return c != 0; }));
  put_varint(out, non_empty);
  // Each non-empty bucket as (gap since the previous one, count): latency distributions are clustered,
  // so most gaps and many counts fit in one byte.
  std::size_t next = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    put_varint(out, i - next);
    put_varint(out, counts_[i]);
    next = i + 1;
  }
  return out;
}

Histogram Histogram::deserialize(std::string_view bytes) {
  Reader in(bytes);
  for (char c : kMagic) {
    if (static_cast<char>(in.byte("magic")) != c) Reader::fail("bad magic (not a shmraft histogram)");
  }
  const uint8_t version = in.byte("version");
  if (version != kFormatVersion) {
    Reader::fail("format version " + std::to_string(version) + ", expected " +
                 std::to_string(kFormatVersion));
  }
  const int digits = in.byte("significant digits");
  const uint64_t highest = in.varint("highest trackable value");
  if (digits < 1 || digits > 4 || highest < 2) Reader::fail("invalid layout");
  Histogram h(digits, highest);
  h.total_ = in.varint("total count");
  h.saturated_ = in.varint("saturated count");
  h.min_ = in.varint("min");
  h.max_ = in.varint("max");
  const uint64_t sum_low = in.varint("sum");
  const uint64_t sum_high = in.varint("sum");
  h.sum_ = (static_cast<unsigned __int128>(sum_high) << 64) | sum_low;
  const uint64_t non_empty = in.varint("bucket count");
  if (non_empty > h.counts_.size()) Reader::fail("more non-empty buckets than the layout has");
  uint64_t next = 0;
  uint64_t counted = 0;
  for (uint64_t b = 0; b < non_empty; ++b) {
    const uint64_t gap = in.varint("bucket gap");
    const uint64_t count = in.varint("bucket count");
    if (gap >= h.counts_.size() - next) Reader::fail("bucket index out of range");
    const uint64_t index = next + gap;
    if (count == 0) Reader::fail("empty bucket listed");
    h.counts_[index] = count;
    counted += count;
    next = index + 1;
  }
  if (!in.at_end()) Reader::fail("trailing bytes");
  if (counted != h.total_) Reader::fail("bucket counts do not add up to the total");
  if (h.saturated_ > h.total_) Reader::fail("saturated count exceeds the total");
  if (h.total_ != 0 && h.min_ > h.max_) Reader::fail("min exceeds max");
  return h;
}

bool operator==(const Histogram& a, const Histogram& b) noexcept {
  return a.digits_ == b.digits_ && a.highest_trackable_ == b.highest_trackable_ && a.total_ == b.total_ &&
         a.saturated_ == b.saturated_ && a.min_ == b.min_ && a.max_ == b.max_ && a.sum_ == b.sum_ &&
         a.counts_ == b.counts_;
}

}  // namespace shmraft::bench
