// The command line's own checks: readable ranges, and an unknown command named as such.
#include "launcher/cli_options.h"

#include <gtest/gtest.h>

#include "launcher/unknown_command.h"

namespace shmraft::launcher {
namespace {

// The message CLI11 gives for `args` (program name first), "" if they parse.
std::string parse_error(CLI::App& app, std::vector<std::string> args) {
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return {};
}

TEST(InRange, SaysTheAllowedRangeReadably) {
  CLI::App app;
  uint32_t timeout = 0;
  double rate = 0;
  uint32_t node = 0;
  app.add_option("--timeout-ms", timeout)->check(in_range(1u, 3'600'000u, "ms"));
  app.add_option("--rate", rate)->check(in_range(0.0, 0.9));
  app.add_option("node", node)->check(node_id_validator());
  EXPECT_NE(parse_error(app, {"p", "--timeout-ms", "0"}).find("'0' must be from 1 to 3600000 (ms)"),
            std::string::npos);
  EXPECT_NE(parse_error(app, {"p", "--rate", "2"}).find("'2' must be from 0 to 0.9"), std::string::npos);
  const std::string negative = parse_error(app, {"p", "--", "-1"});
  EXPECT_NE(negative.find("node id '-1' out of range 1..N"), std::string::npos) << negative;
  EXPECT_LT(negative.size(), 140u) << negative;
  // Node ids are 1..N: 0 ("no node") and ids past the largest cluster are refused.
  for (const char* bad : {"0", "17"}) {
    const std::string refused = parse_error(app, {"p", "--", bad});
    EXPECT_NE(refused.find("node id '" + std::string(bad) + "' out of range 1..N"), std::string::npos)
        << refused;
  }
  EXPECT_EQ(parse_error(app, {"p", "--timeout-ms", "3600000", "--rate", "0.9", "16"}), "");
  EXPECT_EQ(parse_error(app, {"p", "1"}), "");
}

TEST(UnknownCommand, NamesTheWordAndTheCommandsThereAre) {
  CLI::App app;
  app.require_subcommand(1);
  app.add_subcommand("up", "start");
  CLI::App* kv = app.add_subcommand("kv", "one operation");
  kv->require_subcommand(1);
  kv->add_subcommand("get", "read");
  kv->add_subcommand("put", "write");
  parse_error(app, {"p", "frobnicate"});
  EXPECT_EQ(unknown_command_message(app), "unknown command 'frobnicate' (commands: up, kv)");
}

TEST(UnknownCommand, NamesAnUnknownOperationOfASubcommand) {
  CLI::App app;
  app.require_subcommand(1);
  CLI::App* kv = app.add_subcommand("kv", "one operation");
  kv->require_subcommand(1);
  kv->add_subcommand("get", "read");
  kv->add_subcommand("put", "write");
  parse_error(app, {"p", "kv", "gte"});
  EXPECT_EQ(unknown_command_message(app), "unknown command 'gte' of 'kv' (commands: get, put)");
}

TEST(UnknownCommand, SaysNothingOfAnOrdinaryFlagError) {
  CLI::App app;
  app.require_subcommand(1);
  app.add_subcommand("up", "start");
  parse_error(app, {"p", "up", "--nope"});
  EXPECT_EQ(unknown_command_message(app), "");
}

}  // namespace
}  // namespace shmraft::launcher
