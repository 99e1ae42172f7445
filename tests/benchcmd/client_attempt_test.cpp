// An attempt at the live leader the segment names is waited for, not resent elsewhere after the attempt
// timeout: a deep queue makes that leader slow, and every resend would come back to it as a duplicate
// (4 096 clients × pipeline 16 on this host: seconds per operation, so every operation went out three
// times). The leader is made slow by SIGSTOP, with an election timeout far beyond the pause so that it
// stays the leader; an attempt at a node the record does not name still moves on (ClientGroup and
// ClientHistory tests kill leaders).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <optional>
#include <string>

#include "launcher/client/async_client.h"
#include "tests/cluster/harness.h"

namespace shmraft {
namespace {

using namespace std::chrono_literals;
using cluster_test::TestCluster;

// SIGCONTs the node when the test ends, however it ends.
struct Stopped {
  pid_t pid;
  ~Stopped() { ::kill(pid, SIGCONT); }
};

TEST(AsyncClient, AnAttemptAtTheLiveNamedLeaderIsWaitedForNotResentElsewhere) {
  // 5 ms ticks × 400: elections after 2-4 s, far beyond the pause, and no stall watch (it would see the
  // stop at once), so the stopped node stays the leader.
  TestCluster cluster(
      "attempt", {.nodes = 3, .up_args = {}, .node_args = {"--election-ticks", "400", "--stall-us", "0"}});
  const uint32_t leader = cluster.wait_for_leader(15s);
  client::ClientOptions options;
  options.session = false;  // as the pipelined benchmark: a resend could apply twice
  options.attempt_timeout = 50ms;
  options.operation_timeout = 10s;
  client::AsyncClient client(cluster.name(), options);
  ASSERT_EQ(client.leader(), leader) << "the client starts at the announced leader";

  const pid_t pid = cluster.node_pid(leader);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  const Stopped stopped{pid};
  ASSERT_TRUE(client.submit({kv::Op::put, "k", "v", {}}, 1));
  std::optional<client::Completion> done;
  const auto on_done = [&](const client::Completion& c) { done = c; };
  // Ten attempt timeouts while the leader cannot answer.
  const auto resume_at = std::chrono::steady_clock::now() + 10 * options.attempt_timeout;
  while (std::chrono::steady_clock::now() < resume_at && !done) client.wait(on_done, 5ms);
  ASSERT_FALSE(done) << "a stopped leader answered";
  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline && !done) client.wait(on_done, 5ms);
  ASSERT_TRUE(done) << "no answer 5 s after the leader was continued";
  EXPECT_EQ(done->status, client::Status::ok);
  EXPECT_EQ(done->attempts, 1u) << "the put was resent while its leader was alive and named";
}

}  // namespace
}  // namespace shmraft
