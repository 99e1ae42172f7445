#include "node/kv/state_machine.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include "tests/kv/kv_test_util.h"
#include "tests/test_seed.h"

namespace shmraft::kv {
namespace {
using namespace test;

class Apply : public ::testing::Test {
 protected:
  Result run(const Command& c) { return kv.apply(++index, encode(c)); }
  std::string value(std::string_view key) { return std::string(kv.get(key).value_or("<absent>")); }

  StateMachine kv;
  uint64_t index = 0;
};

TEST_F(Apply, PutThenGet) {
  EXPECT_EQ(run(put("a", "1")).code, ResultCode::ok);
  const Result r = run(get("a"));
  EXPECT_EQ(r.code, ResultCode::value);
  EXPECT_EQ(r.value, "1");
  EXPECT_EQ(run(put("a", "22")).code, ResultCode::ok);
  EXPECT_EQ(value("a"), "22");
  EXPECT_EQ(kv.applied_index(), 3u);
}

TEST_F(Apply, AbsentKeyIsToldApartFromAnEmptyValue) {
  const Result missing = run(get("missing"));
  EXPECT_EQ(missing.code, ResultCode::absent);
  EXPECT_EQ(missing.value, "");
  EXPECT_FALSE(kv.get("missing").has_value());
  run(put("empty", ""));
  const Result empty = run(get("empty"));
  EXPECT_EQ(empty.code, ResultCode::value);
  EXPECT_EQ(empty.value, "");
}

TEST_F(Apply, AppendCreatesThenConcatenates) {
  EXPECT_EQ(run(append("log", "x")).code, ResultCode::ok);
  EXPECT_EQ(run(append("log", "yz")).code, ResultCode::ok);
  EXPECT_EQ(value("log"), "xyz");
}

// The bound a client declares (what a get reply can carry) is checked at apply time on every replica, so
// two appends that each fit cannot together make a key unreadable.
TEST_F(Apply, AppendPastItsBoundChangesNothing) {
  Command first = append("log", "12345", 1, 1);
  first.bound = 8;
  EXPECT_EQ(run(first).code, ResultCode::ok);
  Command second = append("log", "6789", 1, 2);
  second.bound = 8;
  EXPECT_EQ(run(second).code, ResultCode::too_large);
  EXPECT_EQ(value("log"), "12345");
  const Result retry = run(second);  // a retry gets the same answer, not a second try
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.code, ResultCode::too_large);
  Command exact = append("log", "678", 1, 3);
  exact.bound = 8;
  EXPECT_EQ(run(exact).code, ResultCode::ok);
  EXPECT_EQ(value("log"), "12345678");
  Command fresh = append("new", "123456789");
  fresh.bound = 8;
  EXPECT_EQ(run(fresh).code, ResultCode::too_large);
  EXPECT_FALSE(kv.get("new").has_value());
}

TEST_F(Apply, DeleteRemovesAndIsOkWhenAbsent) {
  run(put("a", "1"));
  EXPECT_EQ(run(del("a")).code, ResultCode::ok);
  EXPECT_FALSE(kv.get("a").has_value());
  EXPECT_EQ(run(del("a")).code, ResultCode::ok);
  EXPECT_EQ(kv.size(), 0u);
}

TEST_F(Apply, CasMatchesOrFailsWithoutChange) {
  run(put("c", "old"));
  EXPECT_EQ(run(cas("c", "wrong", "new")).code, ResultCode::cas_failed);
  EXPECT_EQ(value("c"), "old");
  EXPECT_EQ(run(cas("c", "old", "new")).code, ResultCode::ok);
  EXPECT_EQ(value("c"), "new");
}

TEST_F(Apply, CasOnAbsentKeyExpectsEmpty) {
  EXPECT_EQ(run(cas("c", "x", "y")).code, ResultCode::cas_failed);
  EXPECT_FALSE(kv.get("c").has_value());
  EXPECT_EQ(run(cas("c", "", "y")).code, ResultCode::ok);
  EXPECT_EQ(value("c"), "y");
}

TEST_F(Apply, MalformedEntryChangesOnlyTheAppliedIndex) {
  run(put("a", "1"));
  const std::vector<std::byte> garbage{std::byte{0xee}, std::byte{0x01}};
  const auto before = kv.snapshot();
  EXPECT_EQ(kv.apply(++index, garbage).code, ResultCode::malformed);
  EXPECT_EQ(kv.applied_index(), index);
  EXPECT_EQ(value("a"), "1");
  StateMachine reference;
  reference.restore(before);
  reference.skip(index);
  EXPECT_EQ(reference.snapshot(), kv.snapshot());
}

TEST_F(Apply, PrefetchChangesNothingEvenForMalformedOrUnknownKeys) {
  run(put("a", "1"));
  const auto before = kv.snapshot();
  kv.prefetch(encode(put("a", "2")));
  kv.prefetch(encode(put("absent", "2")));
  kv.prefetch(std::vector<std::byte>{std::byte{0xee}, std::byte{0x01}});
  kv.prefetch({});
  EXPECT_EQ(kv.snapshot(), before);
  EXPECT_EQ(kv.applied_index(), index);
}

TEST_F(Apply, IndexMustIncrease) {
  run(put("a", "1"));
  EXPECT_THROW(kv.apply(index, encode(put("a", "2"))), std::logic_error);
  EXPECT_THROW(kv.skip(index - 1), std::logic_error);
  EXPECT_EQ(value("a"), "1");
  kv.skip(index + 5);
  EXPECT_EQ(kv.applied_index(), index + 5);
}

// Random commands against a std::map model: the state machine must agree with it on every answer.
TEST(StateMachineModel, MatchesAMapOnRandomCommands) {
  const uint64_t seed = testing::announce_seed();
  SCOPED_TRACE(testing::replay_command(seed));
  std::mt19937_64 rng(seed);
  StateMachine kv;
  std::map<std::string, std::string> model;
  const std::string keys[] = {"a", "b", "c", "d"};
  const std::string values[] = {"", "1", "22", "333", std::string(100, 'L')};
  for (uint64_t index = 1; index <= 20000; ++index) {
    const std::string& key = keys[rng() % 4];
    const auto it = model.find(key);
    const bool present = it != model.end();
    const std::string current = present ? it->second : "";
    const std::string& value = values[rng() % 5];
    const std::string expected = rng() % 2 ? current : values[rng() % 5];
    auto op = static_cast<Op>(1 + rng() % 5);
    if (current.size() > 1000) op = Op::del;  // keep values short so the run stays fast
    const Result r = kv.apply(index, encode({kNoSession, 0, op, key, value, expected}));
    switch (op) {
      case Op::get:
        ASSERT_EQ(r.code, present ? ResultCode::value : ResultCode::absent);
        ASSERT_EQ(r.value, current);
        break;
      case Op::put:
        model[key] = value;
        break;
      case Op::append:
        model[key] += value;
        break;
      case Op::del:
        model.erase(key);
        break;
      case Op::cas:
        ASSERT_EQ(r.code, current == expected ? ResultCode::ok : ResultCode::cas_failed);
        if (current == expected) model[key] = value;
        break;
    }
    if (op != Op::get && op != Op::cas) {
      ASSERT_EQ(r.code, ResultCode::ok);
    }
  }
  const std::vector<std::pair<std::string, std::string>> expected(model.begin(), model.end());
  EXPECT_EQ(kv.dump(), expected);
}

}  // namespace
}  // namespace shmraft::kv
