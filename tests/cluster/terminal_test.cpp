// Ctrl-C in a real terminal (issue 15): the terminal sends SIGINT to its whole foreground process
// group. The nodes `shmraft up` starts must not be in it — each leads a group of its own in the
// supervisor's session — so only the supervisor stops them, in order, and its report is complete. Driven
// through a pseudo-terminal, typing ^C as a user would.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>

#include "launcher/child_process.h"
#include "tests/cluster/harness.h"

namespace shmraft::cluster_test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Reads the terminal into `output` until it contains `needle` (true) or EOF/timeout (false).
bool read_until(int master, std::string& output, const std::string& needle,
                std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (needle.empty() || output.find(needle) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd pfd{master, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n <= 0) return needle.empty();  // EIO: the last process holding the terminal is gone
    output.append(buffer, static_cast<std::size_t>(n));
  }
  return true;
}

struct ProcessGroup {
  pid_t group = 0;
  pid_t session = 0;
};

// Fields 5-6 of /proc/<pid>/stat (after the parenthesised command name).
ProcessGroup process_group(pid_t pid) {
  const std::string stat = launcher::read_proc_file(pid, "stat");
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  char state = 0;
  pid_t parent = 0;
  ProcessGroup result;
  rest >> state >> parent >> result.group >> result.session;
  return result;
}

// Runs `shmraft <args...>` on a new pseudo-terminal, as its foreground job; returns the master side.
pid_t start_on_terminal(const std::vector<std::string>& args, int& master) {
  std::vector<std::string> argv{SHMRAFT_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (std::string& arg : argv) raw.push_back(arg.data());
  raw.push_back(nullptr);
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  return pid;
}

TEST(Terminal, CtrlCReachesOnlyTheSupervisorWhichStopsEveryNodeCleanly) {
  const std::string name = unique_cluster_name("pty");
  const fs::path root = fs::path("/tmp/shmraft") / name;
  ScopedClusterFiles cleanup{name, root};
  int master = -1;
  const pid_t up = start_on_terminal({"up", "-c", name, "-d", root.string()}, master);
  ASSERT_GE(up, 0) << "forkpty failed";
  cleanup.process = up;
  std::string output;
  ASSERT_TRUE(read_until(master, output, "leader: node", 20s)) << output;

  const pid_t foreground = ::tcgetpgrp(master);
  const ProcessGroup supervisor = process_group(up);
  EXPECT_EQ(supervisor.group, foreground) << "the supervisor is the terminal's foreground job";
  const CommandResult status = run_shmraft({"status", "-c", name, "--once", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.describe();
  const nlohmann::json nodes = nlohmann::json::parse(status.out)["nodes"];
  ASSERT_EQ(nodes.size(), 3u) << status.out;
  for (const auto& node : nodes) {
    const auto pid = node["pid"].get<pid_t>();
    const ProcessGroup group = process_group(pid);
    EXPECT_NE(group.group, foreground) << "node " << node["node"] << " would receive the terminal's ^C";
    EXPECT_EQ(group.group, pid) << "node " << node["node"] << " leads a process group of its own";
    // Not a session of its own: a session is a scheduler autogroup of its own (launcher/child_process.cpp).
    EXPECT_EQ(group.session, supervisor.session) << "node " << node["node"];
  }

  ASSERT_EQ(::write(master, "\x03", 1), 1);  // ^C, as typed
  read_until(master, output, "", 30s);
  const auto ended = launcher::wait_for_exit(up, 10s);
  ASSERT_TRUE(ended) << output;
  cleanup.process = 0;
  ::close(master);
  EXPECT_EQ(ended->code, 0) << output;
  EXPECT_NE(output.find("stopping cluster '" + name + "' (INT)"), std::string::npos) << output;
  EXPECT_EQ(output.find("exited ("), std::string::npos) << "a node stopped on its own:\n" << output;
  EXPECT_EQ(output.find("did not stop cleanly"), std::string::npos) << output;
  EXPECT_NE(output.find("stopped, segment removed"), std::string::npos) << output;
}

// The benchmark's report after a terminal Ctrl-C still has what only running nodes can give: their CPU,
// peak RSS and sleeps (they used to take the ^C too and be gone before the report).
TEST(Terminal, CtrlCDuringABenchmarkLeavesItsReportComplete) {
  int master = -1;
  const pid_t bench =
      start_on_terminal({"bench", "--warmup", "0.2", "--duration", "60", "--no-floor"}, master);
  ASSERT_GE(bench, 0) << "forkpty failed";
  std::string output;
  const bool measuring = read_until(master, output, "measure     1/", 30s);
  if (measuring) {
    EXPECT_EQ(::write(master, "\x03", 1), 1);
  }
  read_until(master, output, "", 30s);
  const auto ended = launcher::wait_for_exit(bench, measuring ? 10s : 0s);
  if (!ended) launcher::stop_child(bench, 5s);
  ::close(master);
  ASSERT_TRUE(measuring) << output;
  ASSERT_TRUE(ended) << output;
  EXPECT_EQ(ended->code, 130) << output;
  for (const char* line : {"nodes used", "peak RSS per node", "sleeps per op per node", "INTERRUPTED"})
    EXPECT_NE(output.find(line), std::string::npos) << "'" << line << "' missing:\n" << output;
  EXPECT_EQ(output.find("exited"), std::string::npos) << output;
}

}  // namespace
}  // namespace shmraft::cluster_test
