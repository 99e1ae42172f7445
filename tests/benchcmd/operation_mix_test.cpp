// The benchmark's own keys: the same 65 536 whatever the client count (at most 1 024 per client), so a
// row of 4 096 clients overwrites keys as one of 64 does instead of growing the KV map past a million.
#include "launcher/bench/operation_mix.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace shmraft::bench {
namespace {

TEST(OwnKeys, AreSharedOutSoTheirTotalStaysTheSameAtAnyClientCount) {
  EXPECT_EQ(own_keys_per_client(1), 1024u);
  EXPECT_EQ(own_keys_per_client(64), 1024u);
  EXPECT_EQ(own_keys_per_client(65), 1008u);
  EXPECT_EQ(own_keys_per_client(4096), 16u);
  for (const uint32_t clients : {64u, 256u, 4096u})
    EXPECT_EQ(uint64_t{own_keys_per_client(clients)} * clients, kOwnKeys) << clients << " clients";
}

TEST(OwnKeys, EachClientCyclesThroughItsOwnShare) {
  BenchConfig config;
  config.clients = 4096;
  OperationMix mix(config, nullptr, 1);
  std::set<std::string> keys;
  for (uint64_t op = 0; op < 3 * 16; ++op) {
    const Operation next = mix.next(7, op);
    EXPECT_FALSE(next.read);
    keys.insert(std::string(next.key));
    EXPECT_EQ(next.key, own_key(7, static_cast<uint32_t>(op % 16))) << "operation " << op;
  }
  EXPECT_EQ(keys.size(), 16u);
  EXPECT_NE(*keys.begin(), std::string(mix.next(8, 0).key)) << "another client, other keys";
}

}  // namespace
}  // namespace shmraft::bench
