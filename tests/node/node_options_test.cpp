// The `shmraft node` flags: every flag reaches NodeOptions, bad values are refused naming the flag.
#include "node/process/node_options.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace shmraft::node {
namespace {

NodeOptions parse(std::vector<std::string> args) {
  CLI::App app("node");
  NodeOptions options;
  add_node_flags(app, options);
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments in reverse order
  app.parse(args);
  validate(options);
  return options;
}

TEST(NodeOptions, EveryFlagReachesTheOptions) {
  const NodeOptions o =
      parse({"--cluster",         "demo",      "--node",           "2",
             "--data-dir",        "/tmp/d",    "--cluster-id",     "0123456789abcdef0123456789abcdef",
             "--fsync",           "always",    "--wait",           "block",
             "--spin-us",         "20",        "--transport",      "tcp",
             "--tick-us",         "1000",      "--election-ticks", "150",
             "--heartbeat-ticks", "10",        "--seed",           "42",
             "--snapshot-bytes",  "1048576",   "--segment-bytes",  "65536",
             "--log-level",       "debug",     "--log-file",       "/tmp/n.log",
             "--eager-commit",    "--realtime"});
  EXPECT_EQ(o.cluster, "demo");
  EXPECT_EQ(o.node, 2u);
  EXPECT_EQ(o.data_dir, "/tmp/d");
  ASSERT_TRUE(o.cluster_id);
  EXPECT_EQ(o.cluster_id->to_hex(), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(o.fsync, storage::Durability::always);
  EXPECT_EQ(o.wait, ipc::WaitStrategy::block);
  EXPECT_EQ(o.spin_us, 20u);
  EXPECT_EQ(o.transport, TransportKind::tcp);
  EXPECT_EQ(o.tick_us, 1000u);
  EXPECT_EQ(o.election_ticks, 150u);
  EXPECT_EQ(o.heartbeat_ticks, 10u);
  EXPECT_TRUE(o.eager_commit);
  EXPECT_TRUE(o.realtime);
  EXPECT_EQ(o.seed, 42u);
  EXPECT_EQ(o.snapshot_bytes, 1048576u);
  EXPECT_EQ(o.segment_bytes, 65536u);
  EXPECT_EQ(o.log_level, "debug");
  EXPECT_EQ(o.effective_log_file(), "/tmp/n.log");
}

TEST(NodeOptions, DefaultsAreTheDocumentedOnes) {
  const NodeOptions o = parse({"--cluster", "demo", "--node", "1", "--data-dir", "/tmp/d"});
  EXPECT_EQ(o.fsync, storage::Durability::batch);
  EXPECT_EQ(o.wait, ipc::WaitStrategy::adaptive);
  EXPECT_EQ(o.transport, TransportKind::shm);
  EXPECT_FALSE(o.eager_commit);
  EXPECT_FALSE(o.check_invariants);
  EXPECT_FALSE(o.realtime);
  EXPECT_FALSE(o.cluster_id);
  EXPECT_EQ(o.effective_log_file(), "/tmp/d/node.log");
}

TEST(NodeOptions, CheckInvariantsTurnsTheReadyChecksOn) {
  EXPECT_TRUE(parse({"--cluster", "demo", "--node", "1", "--data-dir", "/tmp/d", "--check-invariants"})
                  .check_invariants);
}

TEST(NodeOptions, BadValuesAreRefusedNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--fsync", "sometimes"}, "--fsync"},
      {{"--wait", "nap"}, "--wait"},
      {{"--transport", "udp"}, "--transport"},
      {{"--cluster-id", "xyz"}, "--cluster-id"},
      {{"--tick-us", "5"}, "--tick-us"},
      {{"--log-level", "loud"}, "--log-level"},
      {{"--heartbeat-ticks", "40"}, "--heartbeat-ticks"},  // not below the election timeout
      {{"--realtime", "--wait", "spin"}, "--realtime"},    // a real-time loop that never sleeps
      {{"--realtime", "--wait", "yield"}, "--realtime"},
  };
  for (const auto& [extra, flag] : cases) {
    std::vector<std::string> args{"--cluster", "demo", "--node", "1", "--data-dir", "/tmp/d"};
    args.insert(args.end(), extra.begin(), extra.end());
    try {
      parse(args);
      ADD_FAILURE() << flag << " " << extra.back() << " was accepted";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(parse({"--node", "1", "--data-dir", "/tmp/d"}), CLI::RequiredError);
  // Node ids are 1..N: 0 means "no node" and is refused by name.
  try {
    parse({"--cluster", "demo", "--node", "0", "--data-dir", "/tmp/d"});
    ADD_FAILURE() << "--node 0 was accepted";
  } catch (const CLI::ValidationError& e) {
    EXPECT_NE(std::string(e.what()).find("--node"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace shmraft::node
