#include "launcher/bench/in_leader_node.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <thread>

#include "bench/kit/stop_flag.h"
#include "ipc/clock.h"
#include "ipc/segment.h"
#include "launcher/bench/client_load.h"
#include "launcher/bench/in_leader_result.h"
#include "launcher/bench/node_window.h"

namespace shmraft::bench {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// How often a waiting node looks at the leader record: a few hundred loads a second, nothing beside
// the nodes' own work, and the load starts at most this late (the warm-up absorbs it).
constexpr auto kLeaderPoll = std::chrono::milliseconds(2);
// In the cluster's directory, the parent of every node directory: created (O_EXCL) by the one node
// that runs the load.
constexpr const char* kClaimFile = "in-leader.claim";

// Raised by SIGUSR1 (the benchmark's Ctrl-C) and when the node stops. A global: a signal handler
// reaches nothing else, and a process runs at most one load.
StopFlag g_stop;

extern "C" void stop_load(int) {
  g_stop.request();
}

void install_stop_signal() {
  struct sigaction action {};
  action.sa_handler = stop_load;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // the node's own waits carry on as if nothing happened
  if (sigaction(SIGUSR1, &action, nullptr) != 0)
    throw std::runtime_error(std::string("sigaction(SIGUSR1): ") + std::strerror(errno));
}

// Where the load runs: the node's own identity, from its command line.
struct Site {
  std::string cluster;
  uint32_t node = 0;
  fs::path data_dir;
};

// The term in which this node leads, once the segment's leader record names it and it claimed the
// load; nullopt when stopped first or another node claimed it.
std::optional<uint64_t> claim_when_leading(const ipc::Segment& segment, const Site& site) {
  const fs::path claim = site.data_dir.parent_path() / kClaimFile;
  while (!g_stop.requested()) {
    const ipc::LeaderView view = segment.leader_record().read();
    if (view.leader == site.node) {
      const int fd = ::open(claim.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd >= 0) {
        ::close(fd);
        return view.term;
      }
      if (errno == EEXIST) return std::nullopt;
      throw std::runtime_error("cannot create " + claim.string() + ": " + std::strerror(errno));
    }
    std::error_code ignored;
    if (fs::exists(fs::symlink_status(claim, ignored))) return std::nullopt;
    std::this_thread::sleep_for(kLeaderPoll);
  }
  return std::nullopt;
}

InLeaderResult run_load_here(const ipc::Segment& segment, const Site& site, const InLeaderLoad& load,
                             uint64_t term) {
  InLeaderResult result;
  result.node = site.node;
  result.term = term;
  std::optional<NodeWindowMeter> meter;  // at the window's start every node has published its pid
  NodeWindow window;
  LoadSpec spec;
  spec.spin = std::chrono::microseconds(load.spin_us);
  spec.window_started = [&] {
    meter.emplace(segment, published_node_pids(segment));
    meter->start(ipc::monotonic_ns());
  };
  spec.window_ended = [&] { window = meter->stop(ipc::monotonic_ns()); };
  result.load = run_client_load(site.cluster, load.config, g_stop, spec);
  result.node_cpu = std::move(window.cpu);
  result.node_sleeps = std::move(window.sleeps);
  const ipc::LeaderView now = segment.leader_record().read();
  if (now.term != term || now.leader != site.node) {
    result.error = fmt::format(
        "leadership moved during the in-leader run: node {} led in term {} when the load started, {} by its "
        "end; the figures would mix in a leader outside the load's process",
        site.node, term,
        now.leader ? fmt::format("node {} in term {}", *now.leader, now.term)
                   : fmt::format("no node in term {}", now.term));
  }
  return result;
}

// The load thread of one node process: waits to lead, runs the load if it claims it, writes the result
// (or what went wrong) into the node's directory.
void load_thread(const Site& site, const InLeaderLoad& load) {
  const fs::path file = in_leader_result_file(site.data_dir);
  try {
    const ipc::Segment segment = ipc::Segment::attach(site.cluster);
    const std::optional<uint64_t> term = claim_when_leading(segment, site);
    if (term) write_in_leader_result(file, run_load_here(segment, site, load, *term));
  } catch (const std::exception& e) {
    InLeaderResult failed;
    failed.node = site.node;
    failed.error = fmt::format("the load inside node {} failed: {}", site.node, e.what());
    try {
      write_in_leader_result(file, failed);
    } catch (const std::exception& also) {
      std::fprintf(stderr, "shmraft node %u: %s; and cannot report it: %s\n", site.node, e.what(),
                   also.what());
    }
  }
}

int run_node_with_load(const std::function<int()>& run_node, const Site& site, const InLeaderLoad& load) {
  install_stop_signal();
  std::thread loader([&] { load_thread(site, load); });
  const int code = run_node();
  g_stop.request();
  loader.join();
  return code;
}

}  // namespace

std::string in_leader_flag_value(const InLeaderLoad& load) {
  return json{{"config", load.config}, {"spin_us", load.spin_us}}.dump();
}

InLeaderLoad in_leader_load_of(const std::string& flag_value) {
  try {
    const json j = json::parse(flag_value);
    return {config_from_json(j.at("config")), j.at("spin_us").get<uint32_t>()};
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string(kInLeaderFlag) + ": " + e.what());
  }
}

void add_in_leader_flag(CLI::App& root, launcher::CommandList& commands) {
  CLI::App* node = root.get_subcommand("node");
  const auto command = std::find_if(commands.begin(), commands.end(),
                                    [node](const launcher::Command& c) { return c.app == node; });
  if (command == commands.end())
    throw std::logic_error("add_in_leader_flag: register the node subcommand first");
  auto value = std::make_shared<std::string>();
  node->add_option(kInLeaderFlag, *value, "The load of `shmraft bench --in-leader` (JSON)")->group("");
  command->run = [run_node = command->run, node, value] {
    if (value->empty()) return run_node();
    const InLeaderLoad load = in_leader_load_of(*value);
    const Site site{node->get_option("--cluster")->as<std::string>(),
                    node->get_option("--node")->as<uint32_t>(),
                    node->get_option("--data-dir")->as<std::string>()};
    return run_node_with_load(run_node, site, load);
  };
}

}  // namespace shmraft::bench
