// `shmraft chaos`: flags of the chaos run (launcher/chaos/chaos_run.h does the work).
#include <memory>

#include "launcher/chaos/chaos_run.h"
#include "launcher/chaos/storage_faults.h"
#include "launcher/cli_options.h"
#include "launcher/cluster_dirs.h"
#include "launcher/commands/command.h"
#include "launcher/segment_options.h"

namespace shmraft::launcher {

namespace {

// Milliseconds given on the command line into a chrono field.
CLI::Option* add_ms(CLI::App& app, const std::string& name, std::chrono::milliseconds& field,
                    const std::string& description, uint32_t max, uint32_t min = 0) {
  return app
      .add_option_function<uint32_t>(
          name, [&field](uint32_t ms) { field = std::chrono::milliseconds(ms); }, description)
      ->check(in_range(min, max, "ms"))
      ->default_str(std::to_string(field.count()));
}

std::string storage_fault_names(const std::vector<StorageFaultKind>& kinds) {
  std::string names;
  for (const StorageFaultKind kind : kinds)
    names += std::string(names.empty() ? "" : ", ").append(to_string(kind));
  return names;
}

// No name: every kind.
std::vector<StorageFaultKind> parse_storage_faults(const std::vector<std::string>& names) {
  if (names.empty() || (names.size() == 1 && names.front().empty())) return all_storage_faults();
  std::vector<StorageFaultKind> kinds;
  for (const std::string& name : names) {
    const std::optional<StorageFaultKind> kind = parse_storage_fault(name);
    if (!kind) {
      throw CLI::ValidationError("--storage-faults", "unknown storage fault '" + name + "' (known: " +
                                                         storage_fault_names(all_storage_faults()) + ")");
    }
    kinds.push_back(*kind);
  }
  return kinds;
}

}  // namespace

void add_chaos_command(CLI::App& root, CommandList& commands) {
  auto options = std::make_shared<ChaosOptions>();
  ChaosOptions& o = *options;
  // About five kills a second: fail-over through the death signal takes about a millisecond, so even
  // this rate leaves the cluster serving most of the time while every phase of a write meets a crash.
  o.nemesis.kill_interval = std::chrono::milliseconds(200);
  o.nemesis.partition_interval = std::chrono::milliseconds(2000);
  o.membership.interval = std::chrono::milliseconds(1000);
  CLI::App* app = root.add_subcommand(
      "chaos", "KV clients against a cluster whose nodes are killed and cut off; then check linearizability");
  app->footer(
      "Exit 0 only if the history is linearizable and every node holds every acknowledged write.\n"
      "Everything after `--` is passed to every node (see `shmraft node --help`).");
  app->add_option("-c,--cluster", o.cluster,
                  "Cluster name (default chaos-<pid>-<n>, a name no segment or data directory has yet)")
      ->check(cluster_name_validator());
  app->add_option("-d,--data-dir", o.data_dir,
                  "Root of the node directories (default " + default_data_base().string() + "/<cluster>)");
  add_segment_options(*app, o.segment);
  app->add_option("--clients", o.workload.clients, "Concurrent clients (threads, one slot each)")
      ->check(in_range(1u, 256u))
      ->capture_default_str();
  app->add_option("--keys", o.workload.keys, "Size of the key space (k0..k<n-1>)")
      ->check(in_range(1u, 100'000u))
      ->capture_default_str();
  app->add_option("--duration", o.duration_s, "How long the load and faults last (seconds)")
      ->check(in_range(0.1, 86'400.0, "s"))
      ->capture_default_str();
  app->add_option_function<uint64_t>(
      "--seed", [&o](uint64_t seed) { o.seed = seed; },
      "Seed of the fault schedule and the clients (default: random)");
  add_ms(*app, "--kill-interval", o.nemesis.kill_interval,
         "Mean time between SIGKILLs of a node (milliseconds; 0: none; default 200, about five a second)",
         3'600'000);
  app->add_flag("--partitions", o.partitions, "Also cut and heal links (isolate the leader or a minority)");
  add_ms(*app, "--partition-interval", o.nemesis.partition_interval,
         "Mean time a partition lasts (milliseconds)", 3'600'000)
      ->check(in_range(10u, 3'600'000u, "ms"));
  add_ms(*app, "--crash-all-interval", o.nemesis.crash_all_interval,
         "Mean time between SIGKILLs of the WHOLE cluster (milliseconds; 0: never)", 3'600'000);
  app->add_option("--leader-bias", o.nemesis.leader_bias,
                  "Chance that a kill, an isolation or a removal (--membership) hits the leader")
      ->check(in_range(0.0, 1.0))
      ->capture_default_str();
  app->add_option("--unreliable", o.nemesis.drop_rate, "Drop this fraction of frames on every link all along")
      ->check(in_range(0.0, 0.9))
      ->capture_default_str();
  app->add_option_function<uint32_t>(
         "--max-delay", [&o](uint32_t us) { o.nemesis.max_delay = std::chrono::microseconds(us); },
         "Delay each link by up to this long all along (microseconds)")
      ->check(in_range(0u, 1'000'000u, "µs"))
      ->default_str("0");
  add_ms(*app, "--op-timeout", o.workload.op_timeout,
         "A client operation's outcome is unknown after this long (milliseconds)", 600'000)
      ->check(in_range(10u, 600'000u, "ms"));
  app->add_option_function<uint32_t>(
         "--think", [&o](uint32_t us) { o.workload.think = std::chrono::microseconds(us); },
         "Pause of each client between operations (microseconds; bounds the history the checker must search)")
      ->check(in_range(0u, 10'000'000u, "µs"))
      ->default_str(std::to_string(o.workload.think.count()));
  app->add_option_function<std::vector<std::string>>(
         "--storage-faults",
         [&o](const std::vector<std::string>& names) {
           o.nemesis.storage_faults = parse_storage_faults(names);
         },
         "Damage a killed node's files before its restart, on at most a minority of the nodes at a time; "
         "the node must start lost and be repaired into a voter within --repair-timeout (a node that exits "
         "on its damage fails the run). The kinds given (comma-separated), or with no value every kind: " +
             storage_fault_names(all_storage_faults()))
      ->expected(0, CLI::detail::expected_max_vector_size)  // counted after the split at commas
      ->delimiter(',');
  app->add_option("--storage-fault-chance", o.nemesis.storage_fault_chance,
                  "Chance that a restart comes with a storage fault")
      ->check(in_range(0.0, 1.0))
      ->capture_default_str();
  add_ms(*app, "--repair-timeout", o.nemesis.repair_bound,
         "A node restarted lost on its damage is a voter again, no longer lost, within this long "
         "(milliseconds)",
         3'600'000, 100);
  app->add_flag("--membership", o.membership_changes,
                "Also change the members while the clients write: add a node (learner first, promoted once "
                "caught up), remove a voter (the leader at --leader-bias), replace one, transfer leadership; "
                "at least min(3, --nodes) voters, at most --max-nodes members. Kills and partitions reach "
                "every member");
  add_ms(*app, "--membership-interval", o.membership.interval,
         "With --membership: mean time between membership changes (milliseconds)", 3'600'000, 10);
  app->add_option("--history", o.history_file,
                  "Write the client history (JSON lines) to this file and keep it");
  app->add_flag("--keep-data", o.keep_data, "Keep the data directories even when the run passes");
  app->add_option("node_flags", o.node_args, "Flags for every node, after `--`");
  commands.push_back({app, [options] {
                        if (!options->partitions)
                          options->nemesis.partition_interval = std::chrono::milliseconds(0);
                        if (!options->membership_changes)
                          options->membership.interval = std::chrono::milliseconds(0);
                        options->membership.leader_bias = options->nemesis.leader_bias;
                        return run_chaos(*options);
                      }});
}

}  // namespace shmraft::launcher
