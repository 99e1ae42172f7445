// Histories generated from the real kv::StateMachine are linearizable by construction; the checker must
// always agree, and must reject them once one read is perturbed.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "launcher/checker/linearizability.h"
#include "tests/checker/history_generator.h"
#include "tests/test_seed.h"

namespace shmraft::checker {
namespace {
using test::GeneratorOptions;

std::vector<std::size_t> known_gets(const std::vector<Operation>& ops) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].op == OpKind::get && ops[i].known()) out.push_back(i);
  }
  return out;
}

TEST(CheckerProperty, SequentialHistoriesPassAndAPerturbedReadFails) {
  const uint64_t seed = testing::announce_seed();
  SCOPED_TRACE(testing::replay_command(seed));
  std::mt19937_64 rng(seed);
  GeneratorOptions options;
  options.concurrent = false;
  for (int round = 0; round < 300; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto history = test::generate_history(rng, options);
    const CheckResult ok = check_linearizability(history.ops);
    ASSERT_EQ(ok.verdict, Verdict::ok) << ok.explanation;
    ASSERT_EQ(check_final_state(history.ops, history.final_state).verdict, Verdict::ok);

    const auto gets = known_gets(history.ops);
    if (gets.empty()) continue;
    const std::size_t victim = gets[rng() % gets.size()];
    std::string& output = history.ops[victim].output;
    // Any other value: one the key held at another time, or one nobody wrote. In a sequential history
    // the state before each read is fixed, so every change must be caught.
    output = output.empty() ? "c0.0;" : (rng() % 2 ? std::string() : output + "x");
    const CheckResult bad = check_linearizability(history.ops);
    ASSERT_EQ(bad.verdict, Verdict::violation)
        << "perturbed op " << victim << ": " << format_operation(history.ops[victim]);
    EXPECT_EQ(bad.key, history.ops[victim].key);
    EXPECT_EQ(bad.operations.front(), victim) << bad.explanation;
  }
}

TEST(CheckerProperty, ConcurrentHistoriesWithUnknownOutcomesPass) {
  const uint64_t seed = testing::announce_seed();
  SCOPED_TRACE(testing::replay_command(seed));
  std::mt19937_64 rng(seed);
  GeneratorOptions options;
  options.clients = 5;
  options.unknown = 0.08;
  for (int round = 0; round < 120; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    options.appends_only = round % 2 == 1;
    auto history = test::generate_history(rng, options);
    const CheckResult ok = check_linearizability(history.ops);
    ASSERT_EQ(ok.verdict, Verdict::ok) << ok.explanation;
    const CheckResult final_ok = check_final_state(history.ops, history.final_state);
    ASSERT_EQ(final_ok.verdict, Verdict::ok) << final_ok.explanation;

    // A value no operation could produce must be caught wherever it is read.
    const auto gets = known_gets(history.ops);
    if (gets.empty()) continue;
    const std::size_t victim = gets[rng() % gets.size()];
    history.ops[victim].output = "never-written";
    ASSERT_EQ(check_linearizability(history.ops).verdict, Verdict::violation);
  }
}

TEST(CheckerProperty, LostAcknowledgedAppendInTheFinalStateIsCaught) {
  const uint64_t seed = testing::announce_seed();
  SCOPED_TRACE(testing::replay_command(seed));
  std::mt19937_64 rng(seed);
  GeneratorOptions options;
  options.appends_only = true;
  options.unknown = 0.1;
  int checked = 0;
  for (int round = 0; round < 100; ++round) {
    auto history = test::generate_history(rng, options);
    // Drop one acknowledged append's token from the final value, as a replica that lost it would.
    std::vector<std::size_t> acked;
    for (std::size_t i = 0; i < history.ops.size(); ++i) {
      if (history.ops[i].op == OpKind::append && history.ops[i].known()) acked.push_back(i);
    }
    if (acked.empty()) continue;
    const Operation& lost = history.ops[acked[rng() % acked.size()]];
    std::string& value = history.final_state[lost.key];
    const auto at = value.find(lost.value);
    ASSERT_NE(at, std::string::npos);
    value.erase(at, lost.value.size());
    const CheckResult r = check_final_state(history.ops, history.final_state);
    ASSERT_EQ(r.verdict, Verdict::violation) << "lost " << format_operation(lost);
    EXPECT_NE(r.explanation.find("missing: append \"" + lost.value + "\""), std::string::npos)
        << r.explanation;
    ++checked;
  }
  EXPECT_GT(checked, 50);
}

// Not a timing assertion: prints how long a chaos-sized history takes, so a regression is visible.
TEST(CheckerProperty, ChaosSizedHistoryChecksInReasonableTime) {
  const uint64_t seed = testing::announce_seed();
  SCOPED_TRACE(testing::replay_command(seed));
  std::mt19937_64 rng(seed);
  GeneratorOptions options;
  options.clients = 8;
  options.ops_per_client = 2500;
  options.keys = 10;
  options.unknown = 0.01;
  const auto history = test::generate_history(rng, options);
  const auto start = std::chrono::steady_clock::now();
  const CheckResult r = check_linearizability(history.ops);
  const CheckResult f = check_final_state(history.ops, history.final_state);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  std::cout << history.ops.size() << " operations checked in " << ms << " ms (" << r.steps + f.steps
            << " steps)\n";
  EXPECT_EQ(r.verdict, Verdict::ok) << r.explanation;
  EXPECT_EQ(f.verdict, Verdict::ok) << f.explanation;
}

}  // namespace
}  // namespace shmraft::checker
