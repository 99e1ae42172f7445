#include "launcher/bench/operation_mix.h"

#include <fmt/format.h>

namespace shmraft::bench {

namespace {

std::string_view format_own_key(char (&out)[kMaxKeyBytes + 8], uint32_t client, uint64_t k) {
  const auto written = fmt::format_to_n(out, sizeof out, "c{}.{}", client, k);
  return {out, written.out};
}

}  // namespace

std::string own_key(uint32_t client, uint32_t k) {
  char key[kMaxKeyBytes + 8];
  return std::string(format_own_key(key, client, k));
}

OperationMix::OperationMix(const BenchConfig& config, const ZipfianGenerator* zipfian, uint64_t seed)
    : reads_(config.reads),
      keys_(config.keys),
      own_keys_(own_keys_per_client(config.clients)),
      zipfian_(zipfian),
      rng_(seed) {}

Operation OperationMix::next(uint32_t client, uint64_t op) {
  Operation next;
  next.read = reads_ > 0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < reads_;
  if (keys_ == 0) {
    next.key = format_own_key(key_, client, op % own_keys_);
    return next;
  }
  const uint64_t k = zipfian_ != nullptr ? zipfian_->next(rng_)
                                         : std::uniform_int_distribution<uint64_t>(0, keys_ - 1)(rng_);
  const auto written = fmt::format_to_n(key_, sizeof key_, "k{}", k);
  next.key = std::string_view(key_, written.out);
  return next;
}

}  // namespace shmraft::bench
