// Clients in their own processes append unique tokens and read them back while the leader is SIGKILLed
// and restarted; their JSON-lines history must be linearizable, and every node's final state must hold
// every acknowledged append exactly once. Also: the pipelined client. Label `cluster`, run serially.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>

#include "launcher/checker/history.h"
#include "launcher/checker/linearizability.h"
#include "launcher/client/async_client.h"
#include "launcher/client/client.h"
#include "node/process/node_process.h"
#include "tests/node/test_cluster.h"

namespace shmraft::node::testing {
namespace {

using namespace std::chrono_literals;

// One client process: appends "c<client>.<n>;" and reads, on a few keys, until `duration` has passed.
[[noreturn]] void run_client(const std::string& cluster, const std::string& history_path, uint32_t id,
                             std::chrono::milliseconds duration, uint64_t seed) {
  int code = 0;
  try {
    checker::HistoryWriter history(history_path);
    client::ClientOptions options;
    options.history = &history;
    options.history_client = id;
    options.operation_timeout = 2s;
    client::Client c(cluster, options);
    std::mt19937_64 rng(seed);
    const auto end = std::chrono::steady_clock::now() + duration;
    std::string key = "k0";
    const std::string prefix = "c" + std::to_string(id) + ".";
    for (uint64_t n = 0; std::chrono::steady_clock::now() < end; ++n) {
      key[1] = static_cast<char>('0' + rng() % 3);
      if (rng() % 3 == 0) {
        c.get(key);
        continue;
      }
      c.append(key, prefix + std::to_string(n) + ";");
      // Paced, so the history stays small enough for an exact check (appended values grow with it)
      // while still spanning the leader kills.
      std::this_thread::sleep_for(5ms);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "client %u: %s\n", id, e.what());
    code = 1;
  }
  _exit(code);
}

TEST(ClientHistory, LinearizableAndNothingAcknowledgedLostAcrossLeaderKills) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (the kill schedule depends on timing; the seed fixes the clients' choices)");
  TestCluster cluster(3, "history");
  const std::string history_path =
      (std::filesystem::temp_directory_path() / ("shmraft-history-" + cluster.name() + ".jsonl")).string();
  std::filesystem::remove(history_path);
  cluster.start_all();
  ASSERT_TRUE(cluster.wait_for_leader(20s));

  std::vector<pid_t> clients;
  for (uint32_t id = 0; id < 3; ++id) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) run_client(cluster.name(), history_path, id, 3s, seed + id);
    clients.push_back(pid);
  }
  for (int round = 0; round < 2; ++round) {
    std::this_thread::sleep_for(700ms);
    const std::optional<uint32_t> leader = cluster.wait_for_leader(20s);
    ASSERT_TRUE(leader);
    cluster.kill(*leader);
    std::this_thread::sleep_for(300ms);
    cluster.start(*leader);
  }
  for (pid_t pid : clients) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }

  const auto clients_done = std::chrono::steady_clock::now();
  const std::vector<checker::Operation> history = checker::read_history_file(history_path);
  std::size_t acknowledged = 0;
  for (const checker::Operation& op : history) acknowledged += op.known() ? 1 : 0;
  EXPECT_GT(acknowledged, 50u) << "the clients made progress";
  const checker::CheckResult linear = checker::check_linearizability(history);
  EXPECT_EQ(linear.verdict, checker::Verdict::ok) << linear.explanation;
  std::printf("%zu operations (%zu acknowledged); linearizability checked in %.1f s\n", history.size(),
              acknowledged,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - clients_done).count());

  // Let every node catch up, stop them, and look at what each one holds.
  const std::optional<uint32_t> leader = cluster.wait_for_leader(20s);
  ASSERT_TRUE(leader);
  ASSERT_TRUE(
      cluster.wait_for_applied(cluster.segment().node_counters(*leader).snapshot().commit_index, 20s));
  for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(cluster.stop(i), 0);
  for (uint32_t i = 0; i < 3; ++i) {
    const checker::CheckResult final_state =
        checker::check_final_state(history, replay_kv_state(cluster.data_dir(i)));
    EXPECT_EQ(final_state.verdict, checker::Verdict::ok) << "node " << i << ": " << final_state.explanation;
  }
  std::filesystem::remove(history_path);
}

TEST(ClientHistory, PipelinedClientKeepsManyRequestsInFlight) {
  TestCluster cluster(3, "pipeline");
  cluster.start_all();
  ASSERT_TRUE(cluster.wait_for_leader(20s));
  client::ClientOptions options = TestCluster::client_options();
  options.pipeline = 16;
  options.session = false;
  client::AsyncClient c(cluster.name(), options);

  constexpr uint64_t kRequests = 2000;
  uint64_t submitted = 0;
  uint64_t ok = 0;
  uint64_t max_outstanding = 0;
  const std::string value(64, 'v');
  const client::AsyncClient::Callback on_done = [&](const client::Completion& done) {
    ok += done.status == client::Status::ok ? 1 : 0;
    EXPECT_LE(done.phases.client_send_ns, done.phases.client_receive_ns);
    EXPECT_LT(done.tag, kRequests);
  };
  while (ok < kRequests) {
    while (submitted < kRequests &&
           c.submit({kv::Op::put, "key" + std::to_string(submitted % 64), value, {}}, submitted))
      ++submitted;
    max_outstanding = std::max<uint64_t>(max_outstanding, c.outstanding());
    const std::size_t finished = c.wait(on_done, 2s);
    ASSERT_TRUE(finished > 0 || c.outstanding() > 0);
    if (submitted == kRequests && c.outstanding() == 0) break;
  }
  EXPECT_EQ(ok, kRequests);
  EXPECT_EQ(max_outstanding, 16u);
}

}  // namespace
}  // namespace shmraft::node::testing
