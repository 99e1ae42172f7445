#include "launcher/checker/history.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <thread>

namespace shmraft::checker {
namespace {

Operation op(uint64_t client, OpKind kind, std::string key, std::string value, std::string expect,
             std::string output, uint64_t call, std::optional<uint64_t> ret) {
  return Operation{client, kind, std::move(key), std::move(value), std::move(expect), std::move(output),
                   call,   ret};
}

void expect_same(const Operation& a, const Operation& b) {
  EXPECT_EQ(a.client, b.client);
  EXPECT_EQ(a.op, b.op);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.expect, b.expect);
  EXPECT_EQ(a.output, b.output);
  EXPECT_EQ(a.call, b.call);
  EXPECT_EQ(a.ret, b.ret);
}

TEST(History, FormatMatchesTheDesignExample) {
  EXPECT_EQ(
      format_operation(op(3, OpKind::put, "k1", "v", "", "ok", 123, 456)),
      R"({"client":3,"op":"put","key":"k1","value":"v","expect":null,"output":"ok","call":123,"return":456})");
  EXPECT_EQ(
      format_operation(op(1, OpKind::get, "k", "", "", "", 5, std::nullopt)),
      R"({"client":1,"op":"get","key":"k","value":null,"expect":null,"output":null,"call":5,"return":null})");
}

TEST(History, RoundTripsEveryKindThroughAStream) {
  const std::vector<Operation> ops = {
      op(1, OpKind::put, "k", "v", "", "ok", 1, 2),
      op(2, OpKind::get, "k", "", "", "", 3, 4),  // an absent key reads ""
      op(3, OpKind::append, "quote\"and\\slash", "line\nbreak", "", "ok", 5, 9),
      op(4, OpKind::cas, "k", "new", "old", "fail", 6, 7),
      op(5, OpKind::cas, "k", "new", "", "", 6, std::nullopt),
      op(6, OpKind::del, "k", "", "", "ok", UINT64_MAX - 1, UINT64_MAX),
  };
  std::stringstream stream;
  write_history(stream, ops);
  const auto back = read_history(stream);
  ASSERT_EQ(back.size(), ops.size());
  for (std::size_t i = 0; i < ops.size(); ++i) expect_same(back[i], ops[i]);
}

TEST(History, BlankLinesAndExtraFieldsAreAccepted) {
  std::stringstream stream(
      "\n"
      R"({"client":1,"op":"get","key":"k","output":"x","call":1,"return":2,"index":17})"
      "\n   \n");
  const auto ops = read_history(stream);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].output, "x");
}

// Each malformed line must produce an error naming the source, the line number and the problem.
TEST(History, MalformedLinesNameTheirLine) {
  const std::string good =
      R"({"client":1,"op":"put","key":"k","value":"v","output":"ok","call":1,"return":2})";
  const std::pair<std::string, std::string> cases[] = {
      {R"({"client":1,"op":"put")", "not valid JSON"},
      {R"([1,2,3])", "not a JSON object"},
      {R"({"op":"put","key":"k","value":"v","output":"ok","call":1,"return":2})", "missing field \"client\""},
      {R"({"client":-1,"op":"put","key":"k","value":"v","output":"ok","call":1,"return":2})",
       "\"client\" must be"},
      {R"({"client":1,"op":"swap","key":"k","call":1,"return":2})", "unknown op \"swap\""},
      {R"({"client":1,"op":"put","key":"k","output":"ok","call":1,"return":2})", "missing field \"value\""},
      {R"({"client":1,"op":"cas","key":"k","value":"v","output":"ok","call":1,"return":2})",
       "missing field \"expect\""},
      {R"({"client":1,"op":"cas","key":"k","value":"v","expect":"","output":"maybe","call":1,"return":2})",
       "cas output must be"},
      {R"({"client":1,"op":"put","key":"k","value":"v","output":"fail","call":1,"return":2})",
       "put output must be"},
      {R"({"client":1,"op":"get","key":"k","call":1,"return":2})", "missing field \"output\""},
      {R"({"client":1,"op":"get","key":"k","output":"","call":5,"return":2})",
       "\"return\" is before \"call\""},
      {R"({"client":1,"op":"get","key":"k","output":"","call":5})", "missing field \"return\""},
      {R"({"client":1,"op":"get","key":"k","output":"","call":"5","return":6})", "\"call\" must be"},
      // Found by history_fuzz: a number too large for a double is nlohmann's out_of_range, not parse_error.
      {R"({"client":1e999})", "not valid JSON"},
  };
  for (const auto& [line, message] : cases) {
    std::stringstream stream(good + "\n" + good + "\n\n" + line + "\n" + good + "\n");
    try {
      read_history(stream, "run.jsonl");
      ADD_FAILURE() << "accepted: " << line;
    } catch (const HistoryError& e) {
      EXPECT_EQ(e.line(), 4u) << line;
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("run.jsonl:4: ", 0), 0u) << what;
      EXPECT_NE(what.find(message), std::string::npos) << what << " should mention " << message;
    }
  }
}

TEST(History, MissingFileIsAClearError) {
  try {
    read_history_file("/nonexistent/history.jsonl");
    FAIL();
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/history.jsonl"), std::string::npos);
  }
}

TEST(History, InvalidUtf8CannotBeWritten) {
  EXPECT_THROW(format_operation(op(1, OpKind::put, "k", "\xff\xfe", "", "ok", 1, 2)), std::invalid_argument);
}

TEST(HistoryWriter, ConcurrentWritersProduceWholeLines) {
  const std::string path = ::testing::TempDir() + "history_writer_" + std::to_string(::getpid()) + ".jsonl";
  std::filesystem::remove(path);
  {
    HistoryWriter writer(path);
    std::vector<std::thread> threads;
    for (uint64_t t = 0; t < 4; ++t) {
      threads.emplace_back([&writer, t] {
        for (uint64_t i = 0; i < 500; ++i) {
          writer.write(op(t, OpKind::append, "k", std::string(100 + i % 50, 'a' + t), "", "ok", i, i + 1));
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto ops = read_history_file(path);
  EXPECT_EQ(ops.size(), 2000u);
  for (const Operation& o : ops)
    EXPECT_EQ(o.value, std::string(o.value.size(), static_cast<char>('a' + o.client)));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace shmraft::checker
