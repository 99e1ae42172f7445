#include "launcher/bench/failover_options.h"

#include <fmt/format.h>
#include <signal.h>

#include "ipc/layout.h"
#include "launcher/cli_options.h"
#include "launcher/launcher_error.h"

namespace shmraft::bench {

namespace {

[[noreturn]] void reject(const std::string& why) {
  throw launcher::UsageError(why);
}

}  // namespace

int FailoverSpec::signal_number() const noexcept {
  return signal == "stop" ? SIGSTOP : SIGKILL;
}

void add_failover_flags(CLI::App& app, FailoverSpec& spec) {
  CLI::Option* failover = app.add_flag(
      "--failover", spec.enabled,
      "Fail-over: under steady load, signal a node --kills times, each once the cluster is caught up; report "
      "detection, election and the window until the new leader acknowledges a write (with --sweep: at every "
      "point)");
  app.add_option("--kills", spec.kills, "Fail-over: events, one signal each")
      ->check(launcher::in_range(1u, 100'000u))
      ->needs(failover)
      ->capture_default_str();
  app.add_option("--signal", spec.signal,
                 "Fail-over: kill (SIGKILL, restarted once the new leader commits) or stop (SIGSTOP, then "
                 "SIGCONT)")
      ->check(CLI::IsMember({"kill", "stop"}))
      ->needs(failover)
      ->capture_default_str();
  app.add_option("--victim", spec.victim, "Fail-over: the node signalled, the leader or a follower")
      ->check(CLI::IsMember({"leader", "follower"}))
      ->needs(failover)
      ->capture_default_str();
  app.add_option(
         "--restart-cpu", spec.restart_cpu,
         "Fail-over with --signal kill: where the killed node starts again: isolated (on a CPU of its "
         "own, the other nodes' loops and the clients off it until it has recovered its files) or shared "
         "(wherever the scheduler puts it)")
      ->check(CLI::IsMember({"isolated", "shared"}))
      ->needs(failover)
      ->each([&spec](const std::string&) { spec.restart_cpu_given = true; })
      ->capture_default_str();
  CLI::Option* reconfigure =
      app.add_option(
             "--reconfigure", spec.change,
             "Reconfiguration: under steady load, --changes times once the cluster is caught up: transfer "
             "(leadership to each follower in turn; window until the new leader acknowledges a write) or "
             "add (start node N+1, add it as a learner and promote it; window until the promotion "
             "commits; then it is removed again); report each window and the slowest operation")
          ->check(CLI::IsMember({"add", "transfer"}))
          ->excludes(failover);
  app.add_option("--changes", spec.changes, "Reconfiguration: events, one change each")
      ->check(launcher::in_range(1u, 100'000u))
      ->needs(reconfigure)
      ->capture_default_str();
  // Needs --failover or --reconfigure, which CLI11's needs() cannot say (it would ask for both):
  // validate() checks it.
  app.add_option(
         "--slow-ops-us", spec.slow_ops_us,
         "Fail-over, reconfiguration: under each event's line, a line per operation acknowledged during "
         "the event that took longer than this (µs), with where its time went (0: none)")
      ->check(launcher::in_range(uint64_t{0}, uint64_t{60'000'000}, "µs"))
      ->capture_default_str();
}

void validate(const FailoverSpec& spec, const std::vector<BenchConfig>& configs,
              const FailoverContext& context) {
  if (spec.slow_ops_us != 0 && !spec.any())
    reject("--slow-ops-us reports the slow operations of --failover or --reconfigure events: give one");
  if (!spec.any()) return;
  if (spec.restart_cpu_given && spec.signal != "kill")
    reject("--restart-cpu places the restart of a killed node: --signal stop restarts nothing");
  const char* flag = spec.reconfigures() ? "--reconfigure" : "--failover";
  if (context.attached)
    reject(fmt::format("{} starts and restarts nodes of its own cluster: drop --cluster", flag));
  if (context.compare) reject(fmt::format("{} cannot be combined with --compare", flag));
  if (context.sweep && spec.reconfigures()) reject("--reconfigure cannot be combined with --sweep");
  if (context.duration_given)
    reject(fmt::format("--duration does not apply to {}: the run lasts until its {} events are measured",
                       flag, spec.events()));
  for (const BenchConfig& c : configs) {
    if (spec.enabled && c.nodes < 3)
      reject(fmt::format(
          "--failover needs 3 or more nodes (a majority must remain when one is lost), not {} (--nodes, "
          "--sweep-nodes)",
          c.nodes));
    if (spec.reconfigures() && c.nodes < 2)
      reject(
          fmt::format("--reconfigure needs 2 or more nodes (a follower to hand over to), not {}", c.nodes));
    if (spec.change == "add" && c.nodes >= ipc::kMaxNodes)
      reject(fmt::format("--reconfigure add needs room for node {}: at most {} nodes", c.nodes + 1,
                         ipc::kMaxNodes - 1));
    if (c.open_loop()) reject(fmt::format("{} drives a closed loop: drop --rate", flag));
    if (c.payload_bytes < kFailoverMinPayload)
      reject(
          fmt::format("{} needs --payload {} or more: each value carries its sequence number for the "
                      "read-back",
                      flag, kFailoverMinPayload));
  }
}

}  // namespace shmraft::bench
