// Clients in their own processes append unique tokens and read them back while the leader is SIGKILLed
// and restarted; their JSON-lines history must be linearizable, and every node's final state must hold
// every acknowledged append exactly once. Also: the pipelined client. Label `cluster`, run serially.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <new>
#include <random>
#include <string>
#include <thread>

#include "ipc/clock.h"
#include "launcher/checker/history.h"
#include "launcher/checker/linearizability.h"
#include "launcher/client/async_client.h"
#include "launcher/client/client.h"
#include "node/process/node_process.h"
#include "tests/node/test_cluster.h"

namespace shmraft::node::testing {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kClients = 3;
constexpr uint32_t kKills = 2;
constexpr uint32_t kPhases = kKills + 1;  // phase p: after the p-th kill (0: before the first)
// Per client and phase, so the history stays small enough for an exact check (appended values grow with
// it) however fast the machine is, while every phase still has room for operations around a kill.
constexpr uint32_t kMaxOpsPerPhase = 200;
// Acknowledged operations every client must complete in a phase before the test moves on.
constexpr uint64_t kAcknowledgedPerPhase = 60;

// Shared between the test and its forked clients (an anonymous MAP_SHARED mapping made before fork).
struct Schedule {
  std::atomic<uint32_t> phase{0};  // kPhases: stop
  std::atomic<uint64_t> acknowledged[kClients][kPhases]{};
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "atomics shared across processes");

Schedule* map_schedule() {
  void* memory = mmap(nullptr, sizeof(Schedule), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::runtime_error("mmap of the shared schedule failed");
  return new (memory) Schedule;
}

// One client process: appends "c<client>.<n>;" and reads, on a few keys, until the test says stop; at most
// kMaxOpsPerPhase operations per phase, each paced by 5 ms.
[[noreturn]] void run_client(const std::string& cluster, const std::string& history_path, uint32_t id,
                             Schedule& schedule, uint64_t seed) {
  int code = 0;
  try {
    checker::HistoryWriter history(history_path);
    client::ClientOptions options;
    options.history = &history;
    options.history_client = id;
    options.operation_timeout = 2s;
    client::Client c(cluster, options);
    std::mt19937_64 rng(seed);
    std::string key = "k0";
    const std::string prefix = std::string("c").append(std::to_string(id)).append(".");
    uint32_t ops_in_phase[kPhases] = {};
    uint64_t token = 0;
    for (uint32_t phase; (phase = schedule.phase.load()) < kPhases;) {
      if (ops_in_phase[phase] < kMaxOpsPerPhase) {
        ++ops_in_phase[phase];
        key[1] = static_cast<char>('0' + rng() % 3);
        const client::Result r =
            rng() % 3 == 0 ? c.get(key) : c.append(key, prefix + std::to_string(token++) + ";");
        if (r.status == client::Status::ok) schedule.acknowledged[id][phase].fetch_add(1);
      }
      std::this_thread::sleep_for(5ms);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "client %u: %s\n", id, e.what());
    code = 1;
  }
  _exit(code);
}

// Waits until every client acknowledged kAcknowledgedPerPhase operations that it began in `phase`.
bool wait_for_progress(const Schedule& schedule, uint32_t phase, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool all = true;
    for (uint32_t id = 0; id < kClients; ++id)
      all = all && schedule.acknowledged[id][phase].load() >= kAcknowledgedPerPhase;
    if (all) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
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

  Schedule& schedule = *map_schedule();
  std::vector<pid_t> clients;
  for (uint32_t id = 0; id < kClients; ++id) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) run_client(cluster.name(), history_path, id, schedule, seed + id);
    clients.push_back(pid);
  }
  // Stop the clients however the test ends, so that waitpid below (or the fixture) never waits forever.
  struct StopClients {
    Schedule& schedule;
    ~StopClients() { schedule.phase.store(kPhases); }
  } stop_clients{schedule};

  std::vector<uint64_t> kill_ns;
  for (uint32_t round = 0; round < kKills; ++round) {
    ASSERT_TRUE(wait_for_progress(schedule, round, 60s)) << "clients stalled before kill " << round;
    const std::optional<uint32_t> leader = cluster.wait_for_leader(20s);
    ASSERT_TRUE(leader);
    kill_ns.push_back(ipc::monotonic_ns());  // the clock of the history's call times
    cluster.kill(*leader);
    schedule.phase.store(round + 1);
    std::this_thread::sleep_for(300ms);
    cluster.start(*leader);
  }
  EXPECT_TRUE(wait_for_progress(schedule, kKills, 60s)) << "clients stalled after the last kill";
  schedule.phase.store(kPhases);
  for (pid_t pid : clients) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }

  const auto clients_done = std::chrono::steady_clock::now();
  const std::vector<checker::Operation> history = checker::read_history_file(history_path);
  std::size_t acknowledged = 0;
  for (const checker::Operation& op : history) acknowledged += op.known() ? 1 : 0;
  EXPECT_LE(history.size(), std::size_t{kClients} * kPhases * kMaxOpsPerPhase);
  // The history itself must show operations invoked after each kill and acknowledged.
  for (uint32_t round = 0; round < kKills; ++round) {
    std::size_t after = 0;
    for (const checker::Operation& op : history) after += op.known() && op.call > kill_ns[round] ? 1 : 0;
    EXPECT_GE(after, std::size_t{kClients} * kAcknowledgedPerPhase) << "acknowledged after kill " << round;
  }
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
  for (uint32_t i = 1; i <= 3; ++i) EXPECT_EQ(cluster.stop(i), 0);
  for (uint32_t i = 1; i <= 3; ++i) {
    const checker::CheckResult final_state =
        checker::check_final_state(history, replay_kv_state(cluster.data_dir(i)));
    EXPECT_EQ(final_state.verdict, checker::Verdict::ok) << "node " << i << ": " << final_state.explanation;
  }
  std::filesystem::remove(history_path);
}

TEST(ClientHistory, RefusesToRecordAHistoryWithoutASession) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("shmraft-history-nosession-" + std::to_string(getpid()) + ".jsonl");
  checker::HistoryWriter history(path.string());
  client::ClientOptions options;
  options.history = &history;
  options.session = false;
  try {
    client::Client c("no-cluster-needed", options);
    ADD_FAILURE() << "a session-less client accepted a history";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("needs a session"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
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
