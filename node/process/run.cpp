#include <signal.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include "node/kv/state_machine.h"
#include "node/process/node.h"
#include "node/process/node_process.h"
#include "node/process/realtime.h"
#include "node/raft/safety_violation.h"
#include "node/raft/types.h"
#include "node/storage/node_storage.h"

namespace shmraft::node {
namespace {

volatile std::sig_atomic_t stop_requested = 0;

void on_stop_signal(int) {
  stop_requested = 1;
}

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a futex sleep returns early; the loop sees the flag by the next tick
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a peer's TCP connection closing must not kill the node
}

std::shared_ptr<spdlog::logger> open_log(const NodeOptions& options) {
  const std::filesystem::path file = options.effective_log_file();
  // The data directory's parent must exist (as for the storage); the directory itself may be new.
  if (file.has_parent_path()) {
    std::error_code ignored;
    std::filesystem::create_directory(file.parent_path(), ignored);
  }
  // Not registered with spdlog: a test may run several nodes (one at a time) in one process.
  auto logger =
      std::make_shared<spdlog::logger>("node" + std::to_string(options.node),
                                       std::make_shared<spdlog::sinks::basic_file_sink_st>(file.string()));
  logger->set_level(spdlog::level::from_str(options.log_level));
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%f %L %v");
  // Nothing is logged per entry at info, and a node is often SIGKILLed: keep what it said.
  logger->flush_on(spdlog::level::info);
  return logger;
}

}  // namespace

int run(const NodeOptions& options) {
  // Everything the node creates — its data directory, node.log, and whatever a library opens with the
  // default 0666/0777 — is the owner's only, whatever umask the node was started with. (The storage
  // opens its files with explicit modes as well.)
  ::umask(077);
  stop_requested = 0;
  install_signal_handlers();
  std::shared_ptr<spdlog::logger> log;
  std::unique_ptr<Node> node;
  try {
    validate(options);
    log = open_log(options);
    node = std::make_unique<Node>(options, *log);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmraft node %u: cannot start: %s\n", options.node, e.what());
    if (log) {
      log->critical("cannot start: {}", e.what());
      log->flush();
    }
    return 1;
  }
  if (options.realtime) {
    // After recovery: a restarting node's start must not preempt the serving cluster (realtime.h).
    if (const std::string refused = enter_realtime(kNodePriority); refused.empty())
      log->info("--realtime: the loop runs at SCHED_RR 1");
    else
      log->warn("--realtime: the loop runs at normal policy: {}", refused);
  }
  int code = 0;
  try {
    node->run(stop_requested);
  } catch (const raft::SafetyViolation& e) {
    // Not a crash: this node's committed entries disagree with its leader's, so some node lost or
    // damaged entries it had persisted. It stops rather than rewrite them (as etcd's raft panics).
    std::fprintf(stderr, "shmraft node %u: safety violation: %s\n", options.node, e.what());
    log->critical("safety violation: {}", e.what());
    code = 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmraft node %u: fatal: %s\n", options.node, e.what());
    log->critical("fatal: {}", e.what());
    code = 2;
  }
  node.reset();
  log->flush();
  return code;
}

std::map<std::string, std::string> replay_kv_state(const std::filesystem::path& data_dir) {
  if (!std::filesystem::is_directory(data_dir))
    throw std::invalid_argument("no node data directory at " + data_dir.string());
  storage::NodeStorage storage(data_dir, storage::Options{});
  kv::StateMachine kv;
  if (std::optional<storage::Snapshot> snapshot = storage.load_snapshot()) kv.restore(snapshot->data);
  // A commit index past the log is acknowledged data lost. The storage's recovery already refuses a
  // missing committed tail; say so here too rather than replay a shorter state as if it were complete.
  const uint64_t commit = storage.hard_state().commit;
  if (commit > storage.last_index())
    throw std::runtime_error("the hard state in " + data_dir.string() + " says index " +
                             std::to_string(commit) + " is committed, but the log ends at " +
                             std::to_string(storage.last_index()) + ": acknowledged entries are lost");
  for (uint64_t index = kv.applied_index() + 1; index <= commit; ++index) {
    const storage::EntryView entry = storage.entry(index);
    if (entry.type > static_cast<uint8_t>(raft::kLastEntryType))
      throw std::runtime_error("log entry " + std::to_string(index) + " in " + data_dir.string() +
                               " has entry type " + std::to_string(entry.type) +
                               ", which this build does not know");
    if (static_cast<raft::EntryType>(entry.type) == raft::EntryType::kNormal)
      kv.apply(index, entry.payload);
    else
      kv.skip(index);
  }
  std::map<std::string, std::string> state;
  for (auto& [key, value] : kv.dump()) state.emplace(std::move(key), std::move(value));
  return state;
}

}  // namespace shmraft::node
