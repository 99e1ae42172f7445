#include "launcher/bench/failover_options.h"

#include <fmt/format.h>
#include <signal.h>

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
}

void validate(const FailoverSpec& spec, const std::vector<BenchConfig>& configs,
              const FailoverContext& context) {
  if (!spec.enabled) return;
  if (context.attached)
    reject("--failover restarts the nodes it kills, so it starts its own cluster: drop --cluster");
  if (context.compare) reject("--failover cannot be combined with --compare");
  if (context.duration_given)
    reject("--duration does not apply to --failover: the run lasts until --kills events are measured");
  for (const BenchConfig& c : configs) {
    if (c.nodes < 3)
      reject(fmt::format(
          "--failover needs 3 or more nodes (a majority must remain when one is lost), not {} (--nodes, "
          "--sweep-nodes)",
          c.nodes));
    if (c.open_loop()) reject("--failover drives a closed loop: drop --rate");
    if (c.payload_bytes < kFailoverMinPayload)
      reject(
          fmt::format("--failover needs --payload {} or more: each value carries its sequence number for the "
                      "read-back",
                      kFailoverMinPayload));
  }
}

}  // namespace shmraft::bench
