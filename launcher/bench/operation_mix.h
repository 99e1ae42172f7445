#pragma once
// What a benchmark client sends next: a linearizable get with probability `reads`, otherwise a put; of
// which key. Without a shared key space (keys == 0) client c's operation n uses its own key
// "c<c>.<n mod 1024>"; with one, key "k<i>", i uniform or zipfian (YCSB, θ = 0.99) over 0..keys-1.
// One per client thread (its own random stream); nothing allocates per operation.
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "bench/kit/bench_config.h"
#include "bench/kit/zipfian.h"

namespace shmraft::bench {

// Keys are "c<client>.<n>", n < kKeysPerClient: the KV map stays small while every put is a real write.
inline constexpr uint32_t kKeysPerClient = 1024;
inline constexpr uint32_t kMaxKeyBytes = 16;

// Client `client`'s k-th own key, k < kKeysPerClient: its operation n uses own_key(client, n %
// kKeysPerClient).
std::string own_key(uint32_t client, uint32_t k);

struct Operation {
  bool read = false;
  std::string_view key;  // valid until the next call
};

class OperationMix {
 public:
  // `zipfian` (not owned, shared by the threads): the generator over config.keys when key_dist is
  // zipfian, else nullptr.
  OperationMix(const BenchConfig& config, const ZipfianGenerator* zipfian, uint64_t seed);

  // Client `client`'s operation number `op` (counted from 0).
  Operation next(uint32_t client, uint64_t op);

 private:
  double reads_;
  uint32_t keys_;
  const ZipfianGenerator* zipfian_;
  std::mt19937_64 rng_;
  char key_[kMaxKeyBytes + 8];
};

}  // namespace shmraft::bench
