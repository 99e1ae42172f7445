#pragma once
// What a benchmark client sends next: a linearizable get with probability `reads`, otherwise a put; of
// which key. Without a shared key space (keys == 0) client c's operation n uses its own key
// "c<c>.<n mod own_keys_per_client(clients)>"; with one, key "k<i>", i uniform or zipfian (YCSB,
// θ = 0.99) over 0..keys-1. One per client thread (its own random stream); nothing allocates per
// operation.
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "bench/kit/bench_config.h"
#include "bench/kit/zipfian.h"

namespace shmraft::bench {

// Own keys are "c<client>.<n>", n < own_keys_per_client(clients): kOwnKeys in all, at most
// kMaxKeysPerClient each (1 024 each up to 64 clients, 16 each at 4 096). The KV map stays small while
// every put is a real write, and it is the same size whatever the client count, so rows of different
// client counts compare the clients and the consensus, not the map: with 1 024 keys each, 4 096 clients
// inserted a new key with nearly every put into a map growing past a million (a node's time went into
// its allocations, page faults and rehashes), while 64 clients overwrote theirs.
inline constexpr uint32_t kOwnKeys = 65536;
inline constexpr uint32_t kMaxKeysPerClient = 1024;
inline constexpr uint32_t kMaxKeyBytes = 16;

constexpr uint32_t own_keys_per_client(uint32_t clients) noexcept {
  return std::clamp<uint32_t>(kOwnKeys / std::max<uint32_t>(clients, 1), 1, kMaxKeysPerClient);
}

// Client `client`'s k-th own key, k < own_keys_per_client(clients): its operation n uses
// own_key(client, n % own_keys_per_client(clients)).
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
  uint32_t own_keys_;  // per client, when keys_ == 0
  const ZipfianGenerator* zipfian_;
  std::mt19937_64 rng_;
  char key_[kMaxKeyBytes + 8];
};

}  // namespace shmraft::bench
