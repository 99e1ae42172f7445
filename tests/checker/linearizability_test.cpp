#include "launcher/checker/linearizability.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/checker/checker_test_util.h"

namespace shmraft::checker {
namespace {
using namespace test;

CheckResult check(const std::vector<Operation>& history) {
  return check_linearizability(history);
}

bool mentions(const CheckResult& r, std::size_t index) {
  return std::find(r.operations.begin(), r.operations.end(), index) != r.operations.end();
}

TEST(Linearizability, EmptyHistoryIsLinearizable) {
  EXPECT_EQ(check({}).verdict, Verdict::ok);
}

TEST(Linearizability, SequentialOperationsOfEveryKind) {
  const std::vector<Operation> h = {
      get("k", "", 0, 1),
      put("k", "a", 2, 3),
      append("k", "b", 4, 5),
      get("k", "ab", 6, 7),
      cas("k", "x", "y", "fail", 8, 9),
      cas("k", "ab", "c", "ok", 10, 11),
      get("k", "c", 12, 13),
      del("k", 14, 15),
      get("k", "", 16, 17),
      cas("k", "", "d", "ok", 18, 19),
      get("k", "d", 20, 21),
  };
  const CheckResult r = check(h);
  EXPECT_EQ(r.verdict, Verdict::ok) << r.explanation;
}

TEST(Linearizability, ConcurrentReadMaySeeEitherSide) {
  for (const char* seen : {"", "1"}) {
    const std::vector<Operation> h = {put("k", "1", 0, 10, 1), get("k", seen, 5, 15, 2)};
    EXPECT_EQ(check(h).verdict, Verdict::ok) << seen;
  }
}

TEST(Linearizability, ConcurrentWritesInEitherOrder) {
  // Two overlapping puts; later reads agree on one order, which must be consistent across readers.
  const std::vector<Operation> h = {put("k", "a", 0, 10, 1), put("k", "b", 0, 10, 2),
                                    get("k", "a", 20, 30, 3), get("k", "a", 40, 50, 4)};
  EXPECT_EQ(check(h).verdict, Verdict::ok);
  std::vector<Operation> flip = h;
  flip[3].output = "b";  // after reading "a" with no write in between, "b" cannot come back
  EXPECT_EQ(check(flip).verdict, Verdict::violation);
}

TEST(Linearizability, EqualTimestampsCountAsConcurrent) {
  const std::vector<Operation> h = {put("k", "1", 0, 10, 1), get("k", "", 10, 20, 2)};
  EXPECT_EQ(check(h).verdict, Verdict::ok);
}

TEST(Linearizability, CatchesAStaleRead) {
  const std::vector<Operation> h = {put("k", "1", 0, 10, 1), put("k", "2", 20, 30, 1),
                                    get("k", "1", 40, 50, 2)};
  const CheckResult r = check(h);
  ASSERT_EQ(r.verdict, Verdict::violation);
  EXPECT_EQ(r.key, "k");
  ASSERT_FALSE(r.operations.empty());
  EXPECT_EQ(r.operations.front(), 2u);  // the stale get is named first
  EXPECT_TRUE(mentions(r, 1));          // with the write it missed
  EXPECT_NE(r.explanation.find("get -> \"1\""), std::string::npos) << r.explanation;
  EXPECT_NE(r.explanation.find("\"2\""), std::string::npos) << r.explanation;
}

TEST(Linearizability, CatchesALostWrite) {
  const std::vector<Operation> h = {append("k", "a", 0, 10, 1), append("k", "b", 20, 30, 2),
                                    get("k", "a", 40, 50, 3)};
  const CheckResult r = check(h);
  ASSERT_EQ(r.verdict, Verdict::violation);
  EXPECT_EQ(r.operations.front(), 2u);
}

TEST(Linearizability, CatchesADuplicateAppend) {
  const std::vector<Operation> h = {append("k", "x;", 0, 10, 1), get("k", "x;x;", 20, 30, 2)};
  const CheckResult r = check(h);
  ASSERT_EQ(r.verdict, Verdict::violation);
  EXPECT_EQ(r.operations.front(), 1u);
}

TEST(Linearizability, CatchesAWrongCasOutcome) {
  EXPECT_EQ(check({put("k", "a", 0, 1), cas("k", "a", "b", "fail", 2, 3)}).verdict, Verdict::violation);
  EXPECT_EQ(check({put("k", "a", 0, 1), cas("k", "z", "b", "ok", 2, 3)}).verdict, Verdict::violation);
}

TEST(Linearizability, UnknownWriteThatTookEffect) {
  const std::vector<Operation> h = {unknown(put("k", "1", 0, {}, 1)), get("k", "1", 100, 110, 2)};
  EXPECT_EQ(check(h).verdict, Verdict::ok);
}

TEST(Linearizability, UnknownWriteThatNeverTookEffect) {
  const std::vector<Operation> h = {unknown(append("k", "x", 0, {}, 1)), get("k", "", 100, 110, 2),
                                    get("k", "", 200, 210, 2)};
  EXPECT_EQ(check(h).verdict, Verdict::ok);
}

TEST(Linearizability, UnknownWriteMayTakeEffectLongAfterItsCall) {
  // Not seen at 100, seen at 200: it took effect in between, long after the client gave up on it.
  const std::vector<Operation> h = {unknown(put("k", "1", 0, {}, 1)), get("k", "", 100, 110, 2),
                                    get("k", "1", 200, 210, 2)};
  EXPECT_EQ(check(h).verdict, Verdict::ok);
}

TEST(Linearizability, UnknownWriteTakesEffectAtMostOnce) {
  const std::vector<Operation> h = {unknown(put("k", "1", 0, {}, 1)), get("k", "1", 100, 110, 2),
                                    put("k", "2", 120, 130, 3), get("k", "1", 200, 210, 2)};
  EXPECT_EQ(check(h).verdict, Verdict::violation);
}

TEST(Linearizability, UnknownWriteCannotTakeEffectBeforeItsCall) {
  const std::vector<Operation> h = {get("k", "1", 0, 10, 2), unknown(put("k", "1", 20, {}, 1))};
  const CheckResult r = check(h);
  ASSERT_EQ(r.verdict, Verdict::violation);
  EXPECT_EQ(r.operations.front(), 0u);
}

TEST(Linearizability, UnknownCasFollowsTheModel) {
  // An unknown cas that took effect must have matched: "b" is readable only after "a" was there.
  EXPECT_EQ(check({put("k", "a", 0, 1), unknown(cas("k", "a", "b", "", 2, {})), get("k", "b", 5, 6)}).verdict,
            Verdict::ok);
  EXPECT_EQ(check({put("k", "z", 0, 1), unknown(cas("k", "a", "b", "", 2, {})), get("k", "b", 5, 6)}).verdict,
            Verdict::violation);
}

TEST(Linearizability, UnreadUnknownWriteCanStillExplainAFailedCas) {
  // No read ever sees "v", but only it explains why the cas expecting "" failed.
  const std::vector<Operation> h = {unknown(put("k", "v", 0, {}, 1)), cas("k", "", "w", "fail", 10, 20, 2)};
  EXPECT_EQ(check(h).verdict, Verdict::ok);
  const std::vector<Operation> without = {cas("k", "", "w", "fail", 10, 20, 2)};
  EXPECT_EQ(check(without).verdict, Verdict::violation);
}

TEST(Linearizability, UnknownReadsConstrainNothing) {
  EXPECT_EQ(check({put("k", "a", 0, 1), unknown(get("k", "nonsense", 2, {}))}).verdict, Verdict::ok);
}

TEST(Linearizability, ReportsTheViolatingKeyAmongMany) {
  const std::vector<Operation> h = {put("a", "1", 0, 1), get("a", "1", 2, 3), put("b", "1", 0, 1),
                                    get("b", "0", 2, 3), put("c", "1", 0, 1), get("c", "1", 2, 3)};
  const CheckResult r = check(h);
  ASSERT_EQ(r.verdict, Verdict::violation);
  EXPECT_EQ(r.key, "b");
  EXPECT_EQ(r.operations.front(), 3u);
}

TEST(Linearizability, RejectsReturnBeforeCall) {
  EXPECT_THROW(check({get("k", "", 10, 5)}), std::invalid_argument);
}

TEST(Linearizability, BudgetGivesUnknownInsteadOfHanging) {
  // Many overlapping appends followed by a read no order can produce, with an unknown delete pending
  // so that the read cannot rule orders out early: an exponential search.
  std::vector<Operation> h;
  for (int i = 0; i < 14; ++i)
    h.push_back(append("k", std::string(1, static_cast<char>('a' + i)), 0, 100, i + 1));
  h.push_back(unknown(del("k", 0, {}, 100)));
  h.push_back(get("k", "impossible", 200, 300, 99));
  CheckOptions options;
  options.max_steps = 1000;
  const CheckResult r = check_linearizability(h, options);
  EXPECT_EQ(r.verdict, Verdict::unknown);
  EXPECT_EQ(r.key, "k");
  EXPECT_LE(r.steps, 1000u);
  EXPECT_NE(r.explanation.find("budget"), std::string::npos);

  options.max_steps = 0;
  options.time_limit = std::chrono::milliseconds(50);
  EXPECT_EQ(check_linearizability(h, options).verdict, Verdict::unknown);
}

TEST(FinalState, AcknowledgedWritesPresent) {
  const std::vector<Operation> h = {append("k", "a;", 0, 10, 1), append("k", "b;", 5, 15, 2),
                                    unknown(append("k", "c;", 20, {}, 3)), put("p", "x", 0, 1)};
  for (const char* final_value : {"a;b;", "b;a;", "a;b;c;", "b;a;c;"}) {
    const CheckResult r = check_final_state(h, {{"k", final_value}, {"p", "x"}});
    EXPECT_EQ(r.verdict, Verdict::ok) << final_value << ": " << r.explanation;
  }
  // c was called after a and b returned, so it cannot land between them.
  EXPECT_EQ(check_final_state(h, {{"k", "a;c;b;"}, {"p", "x"}}).verdict, Verdict::violation);
}

TEST(FinalState, CatchesALostAcknowledgedAppend) {
  const std::vector<Operation> h = {append("k", "a;", 0, 10, 1), append("k", "b;", 20, 30, 2)};
  const CheckResult r = check_final_state(h, {{"k", "a;"}});
  ASSERT_EQ(r.verdict, Verdict::violation);
  EXPECT_EQ(r.key, "k");
  EXPECT_NE(r.explanation.find("missing: append \"b;\""), std::string::npos) << r.explanation;
}

TEST(FinalState, CatchesADuplicatedAppend) {
  const std::vector<Operation> h = {append("k", "a;", 0, 10, 1), unknown(append("k", "b;", 20, {}, 2))};
  const CheckResult r = check_final_state(h, {{"k", "a;b;b;"}});
  ASSERT_EQ(r.verdict, Verdict::violation);
  EXPECT_NE(r.explanation.find("appears 2 times: append \"b;\""), std::string::npos) << r.explanation;
}

TEST(FinalState, CatchesALostPut) {
  const std::vector<Operation> h = {put("k", "1", 0, 10), put("k", "2", 20, 30)};
  EXPECT_EQ(check_final_state(h, {{"k", "2"}}).verdict, Verdict::ok);
  EXPECT_EQ(check_final_state(h, {{"k", "1"}}).verdict, Verdict::violation);
  EXPECT_EQ(check_final_state(h, {}).verdict, Verdict::violation);  // the key vanished
}

TEST(FinalState, ConcurrentPutsMayEndEitherWay) {
  const std::vector<Operation> h = {put("k", "1", 0, 10, 1), put("k", "2", 5, 15, 2)};
  EXPECT_EQ(check_final_state(h, {{"k", "1"}}).verdict, Verdict::ok);
  EXPECT_EQ(check_final_state(h, {{"k", "2"}}).verdict, Verdict::ok);
}

TEST(FinalState, DeletedKeyMustBeAbsentOrEmpty) {
  const std::vector<Operation> h = {put("k", "1", 0, 10), del("k", 20, 30)};
  EXPECT_EQ(check_final_state(h, {}).verdict, Verdict::ok);
  EXPECT_EQ(check_final_state(h, {{"k", "1"}}).verdict, Verdict::violation);
}

TEST(FinalState, KeyNobodyWroteMustBeEmpty) {
  const std::vector<Operation> h = {put("k", "1", 0, 10)};
  const CheckResult r = check_final_state(h, {{"k", "1"}, {"ghost", "boo"}});
  ASSERT_EQ(r.verdict, Verdict::violation);
  EXPECT_EQ(r.key, "ghost");
  EXPECT_EQ(check_final_state(h, {{"k", "1"}, {"ghost", ""}}).verdict, Verdict::ok);
}

TEST(FinalState, ReadsInTheHistoryStillConstrainTheEnd) {
  // The read at 40 saw "2" after put 2; nothing acknowledged wrote "1" later, so ending in "1" is a lost
  // write of "2" even though a put of "1" was acknowledged.
  const std::vector<Operation> h = {put("k", "1", 0, 10), put("k", "2", 5, 30), get("k", "2", 40, 50)};
  EXPECT_EQ(check_final_state(h, {{"k", "2"}}).verdict, Verdict::ok);
  EXPECT_EQ(check_final_state(h, {{"k", "1"}}).verdict, Verdict::violation);
}

}  // namespace
}  // namespace shmraft::checker
