// The command behaves like the tools people know (issue 15): --version, an unknown command named as
// such, exit code 2 for every usage error with a readable range, one unit per kind of flag, kv values
// from stdin with a size error before sending, appends that a get can still read back, a partition
// that cuts something, a restart that reports the node's own error at once, an 80-column status.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/cluster/harness.h"
#include "tests/temp_dir.h"

namespace shmraft::cluster_test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

void expect_usage_error(const std::vector<std::string>& args, const std::string& needle) {
  const CommandResult r = run_shmraft(args);
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_EQ(line_count(r.err), 1u) << r.describe();
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << r.describe();
}

fs::path write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(Command, VersionIsTheProjectVersion) {
  const CommandResult r = run_shmraft({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, std::string("shmraft ") + SHMRAFT_VERSION + "\n");
}

TEST(Command, AnUnknownCommandIsNamed) {
  expect_usage_error({"frobnicate"}, "unknown command 'frobnicate' (commands: up, down, status, kv");
  expect_usage_error({"kv", "gte", "k"},
                     "unknown command 'gte' of 'kv' (commands: get, put, append, cas, del)");
}

TEST(Command, EveryRangeErrorIsAUsageErrorThatSaysTheRange) {
  // Nodes are numbered 1..N: 0 means "no node".
  expect_usage_error({"kill", "-c", "x", "0"}, "node id '0' out of range 1..N");
  expect_usage_error({"kill", "-c", "x", "-1"}, "node id '-1' out of range 1..N");
  expect_usage_error({"restart", "-c", "x", "99"}, "node id '99' out of range 1..N");
  expect_usage_error({"partition", "-c", "x", "1", "0"}, "node id '0' out of range 1..N");
  expect_usage_error({"partition", "-c", "x", "--drop-rate", "2", "1"}, "'2' must be from 0 to 1");
  expect_usage_error({"down", "--timeout-ms", "0"}, "'0' must be from 1 to 3600000 (ms)");
  expect_usage_error({"kill", "--timeout-ms", "0", "1"}, "'0' must be from 1 to 3600000 (ms)");
  expect_usage_error({"kv", "--timeout-ms", "0", "get", "k"}, "'0' must be from 1 to 3600000 (ms)");
  expect_usage_error({"status", "--interval-ms", "1"}, "'1' must be from 50 to 60000 (ms)");
  expect_usage_error({"up", "-n", "99"}, "'99' must be from 1 to 16");
  expect_usage_error({"up", "--restart-cpu", "spare"}, "--restart-cpu: spare not in {isolated,shared}");
  expect_usage_error({"chaos", "--duration", "0"}, "'0' must be from 0.1 to 86400 (s)");
  expect_usage_error({"up", "-c", unique_cluster_name("flags"), "--", "--cluster", "x"},
                     "--cluster is set by the launcher");
}

TEST(Command, TimeoutsAreMillisecondsEverywhere) {
  for (const char* command : {"down", "kill", "restart", "kv"}) {
    const CommandResult help = run_shmraft({command, "--help"});
    EXPECT_NE(help.out.find("--timeout-ms"), std::string::npos) << command << ":\n" << help.out;
    EXPECT_NE(help.out.find("(milliseconds)"), std::string::npos) << command << ":\n" << help.out;
  }
  expect_usage_error({"down", "--timeout", "20"}, "--timeout");
}

TEST(Command, HelpDocumentsTheExitCodes) {
  EXPECT_NE(run_shmraft({"--help"}).out.find("2 usage error"), std::string::npos);
  EXPECT_NE(run_shmraft({"kv", "--help"}).out.find("3 cas did not match"), std::string::npos);
  EXPECT_NE(run_shmraft({"kv", "--help"}).out.find("5 get of a key that holds no value"), std::string::npos);
}

TEST(Command, AgainstARunningCluster) {
  TestCluster cluster("command");
  cluster.wait_for_leader();

  // A node id beyond the cluster, and a partition of every node: usage errors, nothing changed.
  const CommandResult unknown = cluster.run("kill", {"4"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.describe();
  EXPECT_NE(unknown.err.find("node id 4 out of range 1..3"), std::string::npos) << unknown.describe();
  const CommandResult everyone = cluster.run("partition", {"1", "2", "3"});
  EXPECT_EQ(everyone.exit_code, 2) << everyone.describe();
  EXPECT_NE(everyone.err.find("would cut no link"), std::string::npos) << everyone.describe();
  for (const auto& node : cluster.status_nodes()) EXPECT_EQ(node["links_cut"], 0) << node.dump();

  // Status: 80 columns with the indexes, link state and bad frames; --wide adds the traffic.
  ASSERT_EQ(cluster.run("partition", {"1"}).exit_code, 0);
  const CommandResult table = cluster.run("status", {"--once"});
  ASSERT_EQ(table.exit_code, 0) << table.describe();
  std::istringstream lines(table.out);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 80u) << line;
  for (const char* column : {"commit", "applied", "last", "links", "bad"})
    EXPECT_NE(table.out.find(column), std::string::npos) << column << " missing:\n" << table.out;
  EXPECT_NE(table.out.find("cut:2"), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find("frames in"), std::string::npos) << table.out;
  const CommandResult wide = cluster.run("status", {"--once", "--wide"});
  EXPECT_NE(wide.out.find("frames in"), std::string::npos) << wide.describe();
  ASSERT_EQ(cluster.run("heal").exit_code, 0);
  cluster.wait_for_leader();

  // Values from stdin; one larger than a request can carry is refused before anything is sent.
  testing::TempDir tmp;
  const std::string binary("\x00\x01 line\nnext\xff", 14);
  const CommandResult put = run_shmraft({"kv", "-c", cluster.name(), "put", "bin", "-"}, 30s,
                                        write_file(tmp.path() / "value", binary));
  EXPECT_EQ(put.exit_code, 0) << put.describe();
  EXPECT_EQ(cluster.kv({"get", "bin"}).out, binary + "\n");
  const CommandResult huge = run_shmraft({"kv", "-c", cluster.name(), "put", "huge", "-"}, 30s,
                                         write_file(tmp.path() / "huge", std::string(1 << 20, 'x')));
  EXPECT_EQ(huge.exit_code, 1) << huge.describe();
  EXPECT_NE(huge.err.find("1048580 bytes, more than the"), std::string::npos) << huge.describe();
  EXPECT_NE(huge.err.find("--client-ring"), std::string::npos) << huge.describe();

  // Appends stop where a get could no longer carry the value back (the cluster checks the bound each
  // append carries, at apply time); the key stays readable and unchanged.
  const std::string chunk(15'000, 'a');
  EXPECT_EQ(cluster.kv({"append", "grow", chunk}).exit_code, 0);
  const CommandResult second = cluster.kv({"append", "grow", chunk});
  EXPECT_EQ(second.exit_code, 1) << second.describe();
  EXPECT_NE(second.err.find("refused the append: 'grow' would grow past the"), std::string::npos)
      << second.describe();
  const CommandResult get = cluster.kv({"get", "grow"});
  EXPECT_EQ(get.exit_code, 0) << get.describe();
  EXPECT_EQ(get.out, chunk + "\n");

  // A key that holds no value is told apart from one that holds "": exit 5, and "found" in --json.
  ASSERT_EQ(cluster.kv({"put", "empty", ""}).exit_code, 0);
  const CommandResult empty = cluster.kv({"get", "empty"});
  EXPECT_EQ(empty.exit_code, 0) << empty.describe();
  EXPECT_EQ(empty.out, "\n");
  const CommandResult missing = cluster.kv({"get", "missing"});
  EXPECT_EQ(missing.exit_code, 5) << missing.describe();
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(cluster.kv({"get", "--json", "missing"}).out, R"({"found":false,"key":"missing","value":""})"
                                                          "\n");
  EXPECT_EQ(cluster.kv({"get", "--json", "empty"}).out, R"({"found":true,"key":"empty","value":""})"
                                                        "\n");
}

TEST(Command, AMebibyteValueFromStdinWhenTheRingsCarryIt) {
  TestCluster cluster(
      "mebibyte", {.nodes = 3,
                   .up_args = {"--client-ring", "4194304", "--peer-ring", "8388608", "--client-slots", "4"},
                   .node_args = {}});
  cluster.wait_for_leader();
  testing::TempDir tmp;
  std::string value(1 << 20, '\0');
  for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 131 % 251);
  const CommandResult put = run_shmraft({"kv", "-c", cluster.name(), "put", "big", "-"}, 30s,
                                        write_file(tmp.path() / "value", value));
  ASSERT_EQ(put.exit_code, 0) << put.describe();
  const CommandResult get = cluster.kv({"get", "big"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_TRUE(get.out == value + "\n") << "read back " << get.out.size() << " bytes";
}

TEST(Command, ARestartThatFailsAtOnceReportsTheNodesOwnError) {
  TestCluster cluster("restart-fails");
  cluster.wait_for_leader();
  ASSERT_EQ(cluster.run("kill", {"1"}).exit_code, 0);
  const fs::path node_dir = cluster.data_root() / "node1";
  const fs::path kept = cluster.data_root() / "node1.kept";
  fs::rename(node_dir, kept);
  write_file(node_dir, "not a directory\n");  // the node cannot open its data: it exits at once
  const auto began = std::chrono::steady_clock::now();
  const CommandResult r = cluster.run("restart", {"1"});
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("node 1 failed to start: "), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("node1.out"), std::string::npos) << r.describe();
  EXPECT_LT(took, 5s) << "the default timeout is 10 s: the failure must be reported before it";
  fs::remove(node_dir);
  fs::rename(kept, node_dir);
  const CommandResult again = cluster.run("restart", {"1"});
  EXPECT_EQ(again.exit_code, 0) << again.describe() << read_file(cluster.data_root() / "node1.out")
                                << cluster.supervisor_output();
}

}  // namespace
}  // namespace shmraft::cluster_test
