#include <gtest/gtest.h>

#include <random>

#include "node/kv/state_machine.h"
#include "tests/kv/kv_test_util.h"
#include "tests/test_seed.h"

namespace shmraft::kv {
namespace {
using namespace test;

class Sessions : public ::testing::Test {
 protected:
  Result run(const Command& c) { return kv.apply(++index, encode(c)); }
  std::string value(std::string_view key) { return std::string(kv.get(key).value_or("<absent>")); }

  StateMachine kv{Config{.max_sessions = 3}};
  uint64_t index = 0;
};

TEST_F(Sessions, RetriedAppendAppliesOnce) {
  EXPECT_EQ(run(append("k", "x", 7, 1)).code, ResultCode::ok);
  const Result retry = run(append("k", "x", 7, 1));
  EXPECT_EQ(retry.code, ResultCode::ok);
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(value("k"), "x");
  EXPECT_EQ(run(append("k", "y", 7, 2)).code, ResultCode::ok);
  EXPECT_EQ(value("k"), "xy");
}

TEST_F(Sessions, RetriedCasReturnsTheFirstOutcomeNotANewOne) {
  run(put("c", "a", 1, 1));
  EXPECT_EQ(run(cas("c", "a", "b", 2, 1)).code, ResultCode::ok);
  // Applied again, the cas would now fail (the value is "b"); the session must repeat "ok".
  const Result retry = run(cas("c", "a", "b", 2, 1));
  EXPECT_EQ(retry.code, ResultCode::ok);
  EXPECT_TRUE(retry.duplicate);
  // And a failed cas stays failed even when a retry would now match.
  EXPECT_EQ(run(cas("c", "z", "q", 3, 1)).code, ResultCode::cas_failed);
  run(put("c", "z", 1, 2));
  EXPECT_EQ(run(cas("c", "z", "q", 3, 1)).code, ResultCode::cas_failed);
  EXPECT_EQ(value("c"), "z");
}

TEST_F(Sessions, RetriedGetReadsTheCurrentValue) {
  run(put("k", "1", 1, 1));
  EXPECT_EQ(run(get("k", 2, 1)).value, "1");
  run(put("k", "2", 1, 2));
  const Result retry = run(get("k", 2, 1));
  EXPECT_EQ(retry.code, ResultCode::value);
  EXPECT_EQ(retry.value, "2");
  EXPECT_TRUE(retry.duplicate);
}

TEST_F(Sessions, OlderSequenceIsStaleAndNotApplied) {
  run(append("k", "a", 5, 1));
  run(append("k", "b", 5, 2));
  const Result r = run(append("k", "a", 5, 1));
  EXPECT_EQ(r.code, ResultCode::stale_sequence);
  EXPECT_EQ(value("k"), "ab");
}

TEST_F(Sessions, SequenceGapsAreAllowed) {
  run(append("k", "a", 5, 1));
  EXPECT_EQ(run(append("k", "b", 5, 10)).code, ResultCode::ok);
  EXPECT_EQ(value("k"), "ab");
}

TEST_F(Sessions, ClientZeroHasNoSession) {
  run(append("k", "a"));
  run(append("k", "a"));
  EXPECT_EQ(value("k"), "aa");
  EXPECT_EQ(kv.sessions().size(), 0u);
}

TEST_F(Sessions, UnknownClientPastItsFirstCommandIsExpired) {
  const Result r = run(append("k", "a", 9, 4));
  EXPECT_EQ(r.code, ResultCode::session_expired);
  EXPECT_FALSE(kv.get("k").has_value());
  EXPECT_EQ(kv.sessions().size(), 0u);
}

TEST_F(Sessions, LeastRecentlyActiveSessionExpiresFirst) {
  run(append("k", "1", 1, 1));
  run(append("k", "2", 2, 1));
  run(append("k", "3", 3, 1));
  run(append("k", "1", 1, 1));  // a retry counts as activity: client 2 is now the oldest
  run(append("k", "4", 4, 1));  // the fourth session evicts client 2
  ASSERT_EQ(kv.sessions().size(), 3u);
  std::vector<uint64_t> clients;
  for (const SessionRecord& s : kv.sessions().records()) clients.push_back(s.client_id);
  EXPECT_EQ(clients, (std::vector<uint64_t>{3, 1, 4}));

  // Client 2's retry can no longer be recognised, so it is refused rather than applied twice...
  EXPECT_EQ(run(append("k", "2", 2, 2)).code, ResultCode::session_expired);
  // ...while client 1's retry is still recognised.
  EXPECT_TRUE(run(append("k", "1", 1, 1)).duplicate);
  EXPECT_EQ(value("k"), "1234");
}

// Replicas that apply the same log must expire the same sessions and end in byte-identical state, even
// when one of them restarts from a snapshot halfway.
TEST(SessionExpiry, IsDeterministicAcrossReplicas) {
  const uint64_t seed = testing::announce_seed();
  SCOPED_TRACE(testing::replay_command(seed));
  std::mt19937_64 rng(seed);
  std::vector<std::vector<std::byte>> log;
  std::vector<uint64_t> next_sequence(40, 1);
  for (int i = 0; i < 5000; ++i) {
    const uint64_t client = 1 + rng() % 40;
    uint64_t& seq = next_sequence[client - 1];
    const uint64_t s = rng() % 4 == 0 && seq > 1 ? seq - 1 : seq++;  // a quarter are retries
    const std::string key = numbered("k", rng() % 5);
    log.push_back(test::encode(append(key, "x", client, s)));
  }
  const Config config{.max_sessions = 16};
  StateMachine a(config), b(config);
  for (std::size_t i = 0; i < log.size(); ++i) {
    a.apply(i + 1, log[i]);
    b.apply(i + 1, log[i]);
    if (i == log.size() / 2) {
      StateMachine restarted(config);
      restarted.restore(b.snapshot());
      b = std::move(restarted);
    }
    if (i % 997 == 0) {
      ASSERT_EQ(a.snapshot(), b.snapshot()) << "diverged after entry " << i + 1;
    }
  }
  EXPECT_EQ(a.snapshot(), b.snapshot());
  EXPECT_EQ(a.sessions().size(), 16u);
}

}  // namespace
}  // namespace shmraft::kv
