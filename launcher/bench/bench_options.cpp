#include "launcher/bench/bench_options.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>

#include "bench/kit/units.h"
#include "ipc/frame.h"
#include "ipc/ring.h"
#include "launcher/bench/client_load.h"
#include "launcher/cli_options.h"
#include "launcher/client/async_client.h"
#include "launcher/cluster_dirs.h"
#include "node/process/client_wire.h"
#include "node/process/realtime.h"

namespace shmraft::bench {

namespace {

std::chrono::nanoseconds seconds_to_ns(double s) {
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(s * 1e9)));
}

// Ring bytes one outstanding request (or its reply, which is smaller for a put) occupies.
uint64_t request_footprint(uint32_t payload_bytes) {
  return ipc::frame_size(std::max(sizeof(node::RequestHeader), sizeof(node::ResponseHeader)) + 32 +
                         kMaxKeyBytes + payload_bytes);
}

// A page: smaller rings save nothing worth having.
constexpr uint64_t kMinClientRing = 4096;

void add_list(CLI::App& app, const char* flag, auto& values, const char* what) {
  app.add_option(flag, values, what)->delimiter(',')->expected(1, -1);
}

}  // namespace

void add_bench_flags(CLI::App& app, BenchOptions& o) {
  BenchConfig& c = o.config;
  app.add_option("-n,--nodes", c.nodes, "Node processes")->capture_default_str();
  app.add_option("--clients", c.clients,
                 "Logical clients, each with its own client slot, session and outstanding window")
      ->capture_default_str();
  app.add_option("--client-threads", c.client_threads,
                 "Threads (event loops) driving the clients (default: one per 4 cores, at most --clients; "
                 "tcp: one per client)");
  app.add_option("--reads", c.reads, "Fraction of operations that are linearizable gets (ReadIndex), 0..1")
      ->capture_default_str();
  app.add_option_function<uint32_t>(
      "--keys",
      [&c, &o](uint32_t keys) {
        c.keys = keys;
        o.keys_given = true;
      },
      "Shared key space k0..k<N-1> (default: each client its own keys, 65536 in all, at most 1024 each)");
  app.add_option_function<std::string>(
      "--key-dist",
      [&c, &o](const std::string& dist) {
        c.key_dist = dist;
        o.key_dist_given = true;
      },
      "Over --keys: uniform | zipfian (YCSB, θ = 0.99; default uniform)");
  app.add_option("--pipeline", c.pipeline, "Outstanding operations per client")->capture_default_str();
  app.add_option("--payload", c.payload_bytes, "Bytes of each put's value")->capture_default_str();
  app.add_option_function<double>(
         "--warmup", [&c](double s) { c.warmup = seconds_to_ns(s); },
         "Seconds of load before measuring (default 2)")
      ->check(launcher::in_range(0.0, 3600.0, "s"));
  app.add_option_function<double>(
         "--duration",
         [&c, &o](double s) {
           c.measure = seconds_to_ns(s);
           o.duration_given = true;
         },
         "Seconds measured (default 10)")
      ->check(launcher::in_range(0.001, 86400.0, "s"));
  app.add_option("--fsync", c.fsync, "Node durability: none | batch | always")->capture_default_str();
  app.add_option("--wait", c.wait, "Wait strategy of nodes, clients and floor: " + ipc::wait_strategy_names())
      ->capture_default_str();
  app.add_option("--spin-us", o.spin_us,
                 "Adaptive waiting (nodes, clients, floor): microseconds to spin before sleeping")
      ->check(launcher::in_range(0u, 1'000'000u, "microseconds"))
      ->capture_default_str();
  app.add_option("--transport", c.transport, "Between nodes and to clients: shm | tcp (loopback)")
      ->capture_default_str();
  app.add_option("--rate", c.rate_ops_per_s,
                 "Open loop: total ops/s over all clients, latency from each op's intended send time "
                 "(default 0: closed loop)");
  app.add_flag("--in-leader", c.in_leader,
               "Run the load's client threads inside the leader's process, as NuRaft's benchmark does (shm; "
               "client CPU is then part of the leader's)");
  app.add_flag("--realtime", c.realtime,
               "Run the nodes' loops (once recovered) and the client threads at real-time policy SCHED_RR "
               "1, so that they preempt any normal process the moment they are woken; needs CAP_SYS_NICE "
               "or RLIMIT_RTPRIO >= 2 (docs/benchmarks.md, --realtime)");
  app.add_flag("--compare", o.compare, "Run shm, then tcp, with the same configuration; print the ratios");
  app.add_flag("--json", o.json, "Print one JSON object (DESIGN §5) instead of the table");
  app.add_option("--progress", o.progress_interval_s, "Seconds between progress lines on stderr (0: none)")
      ->check(launcher::in_range(0.0, 3600.0, "s"))
      ->capture_default_str();
  app.add_flag("!--no-floor", o.floor, "Skip measuring the shared-memory floor");
  app.add_option("--floor-rounds", o.floor_rounds, "Rounds of each floor measurement (at most 1 s each)")
      ->check(launcher::in_range(uint64_t{100}, uint64_t{10'000'000}))
      ->capture_default_str();

  add_failover_flags(app, o.failover);

  app.add_flag("--sweep", o.sweep,
               "Run the grid nodes × clients × payload × fsync, write sweep.csv and sweep.html into --out");
  add_list(app, "--sweep-nodes", o.grid.nodes, "Sweep: node counts (default 1,3,5)");
  add_list(app, "--sweep-clients", o.grid.clients, "Sweep: client counts (default 1,4,16,64)");
  add_list(app, "--sweep-payload", o.grid.payload_bytes, "Sweep: payload sizes (default 64,1024)");
  add_list(app, "--sweep-fsync", o.grid.fsync, "Sweep: durability modes (default none,batch)");
  app.add_option("--out", o.out_dir, "Sweep: directory for sweep.csv and sweep.html")->capture_default_str();

  app.add_option("-c,--cluster", o.attach_to,
                 "Drive this running cluster (`shmraft up -c NAME`, e.g. with a node under perf) instead of "
                 "starting one; its node count and transport are the cluster's, fsync is whatever it runs")
      ->check(launcher::cluster_name_validator());
  app.add_option("-d,--data-dir", o.data_dir,
                 "Where the throwaway clusters keep their data (default " +
                     launcher::default_data_base().string() + "; the disk fsync hits)");
  app.add_flag("--keep-data", o.keep_data, "Keep the node directories (logs) after the run");
  app.add_option("node_flags", o.node_args, "Further flags for every node, after `--`");
}

uint32_t default_client_threads(const BenchConfig& c) {
  if (c.transport == "tcp") return c.clients;
  const auto cores = static_cast<uint32_t>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  return std::clamp(cores / 4, 1u, std::max(c.clients, 1u));
}

std::vector<BenchConfig> planned_configs(const BenchOptions& o) {
  BenchConfig base = o.config;
  if (o.failover.any()) base.measure = kFailoverMaxRun;  // the events end the measured window
  std::vector<BenchConfig> configs;
  if (o.sweep) {
    configs = o.grid.expand(base);
  } else if (!o.compare) {
    configs = {base};
  } else {
    BenchConfig shm = base, tcp = base;
    shm.transport = "shm";
    tcp.transport = "tcp";
    configs = {shm, tcp};
  }
  for (BenchConfig& c : configs)
    if (c.client_threads == 0) c.client_threads = default_client_threads(c);
  return configs;
}

ipc::SegmentConfig segment_config_for(const BenchConfig& c) {
  ipc::SegmentConfig s;
  s.node_count = c.nodes;
  s.client_slots = c.clients;
  // Room for the whole pipeline plus one frame (a wrapping frame leaves a gap); a full ring would make
  // the client back off for milliseconds and the benchmark would measure that.
  const uint64_t needed = (uint64_t{c.pipeline} + 1) * request_footprint(c.payload_bytes);
  // At least two frames of the largest request (a ring carries payloads up to half its capacity).
  s.client_ring_capacity = std::max(
      {kMinClientRing, std::bit_ceil(needed), std::bit_ceil(2 * request_footprint(c.payload_bytes))});
  return s;
}

BenchLimits bench_limits() {
  BenchLimits limits;
  limits.max_nodes = ipc::kMaxNodes;
  limits.max_clients = kMaxClients;
  limits.max_payload_bytes =
      static_cast<uint32_t>(client::AsyncClient::max_request_bytes_for(
                                ipc::max_payload_for(ipc::SegmentConfig{}.client_ring_capacity)) -
                            kMaxKeyBytes);
  // A commit needs the client, the leader and a follower to run one after another; on this kind of host
  // no such round beats ~1 µs (the measured floor refines this before the cluster starts).
  limits.min_commit_ns = 1000;
  return limits;
}

void validate(const BenchOptions& o) {
  if (o.compare && o.sweep) throw std::invalid_argument("--compare and --sweep cannot be combined");
  if (!o.attach_to.empty() && (o.compare || o.sweep))
    throw std::invalid_argument(
        "--cluster drives one running cluster; --compare and --sweep start their own");
  if (o.config.in_leader) {
    const char* other = o.compare              ? "--compare"
                        : o.failover.any()     ? (o.failover.reconfigures() ? "--reconfigure" : "--failover")
                        : !o.attach_to.empty() ? "--cluster"
                        : o.config.transport == "tcp" ? "--transport tcp"
                                                      : nullptr;
    if (other != nullptr)
      throw std::invalid_argument(
          fmt::format("--in-leader runs the load in the leader of a shared-memory cluster this benchmark "
                      "starts and keeps "
                      "leading: drop {}",
                      other));
  }
  if (o.sweep && o.json && o.out_dir.empty()) throw std::invalid_argument("--sweep needs --out DIR");
  if (o.config.realtime) {
    if (o.config.wait == "spin" || o.config.wait == "yield")
      throw std::invalid_argument("--realtime with --wait " + o.config.wait +
                                  ": a real-time thread that never sleeps would hold its CPU against every "
                                  "other process; use adaptive, spin-block or block");
    if (const std::string refused = node::realtime_refusal(); !refused.empty())
      throw std::invalid_argument("--realtime: " + refused);
  }
  validate(o.failover, planned_configs(o),
           FailoverContext{!o.attach_to.empty(), o.compare, o.duration_given, o.sweep});
  const BenchConfig& base = o.config;
  if (o.keys_given && base.keys == 0)
    throw std::invalid_argument(base.reads > 0 ? "--reads needs keys to read: --keys 0 is an empty key space"
                                               : "--keys 0 is an empty key space (leave --keys out for each "
                                                 "client's own keys)");
  if (o.key_dist_given && base.keys == 0)
    throw std::invalid_argument("--key-dist chooses among --keys N shared keys: give --keys");
  if (o.failover.any() && base.reads > 0)
    throw std::invalid_argument(fmt::format("{} accounts for writes only: drop --reads",
                                            o.failover.reconfigures() ? "--reconfigure" : "--failover"));
  const BenchLimits limits = bench_limits();
  for (const BenchConfig& c : planned_configs(o)) {
    validate(c, limits);
    if (c.transport == "tcp" && c.client_threads < c.clients)
      throw std::invalid_argument(fmt::format(
          "--client-threads {} < --clients {} over tcp: a tcp client has its own sockets, so one thread per "
          "client",
          c.client_threads, c.clients));
    if (c.pipeline > kMaxPipeline)
      throw std::invalid_argument(
          fmt::format("--pipeline {} is out of range 1..{}", c.pipeline, kMaxPipeline));
    const uint64_t bytes = ipc::segment_size(segment_config_for(c));
    if (bytes > kMaxSegmentBytes) {
      throw std::invalid_argument(fmt::format(
          "{} nodes × {} clients × pipeline {} × {} B need a {} segment, more than the {} allowed", c.nodes,
          c.clients, c.pipeline, c.payload_bytes, format_bytes(static_cast<double>(bytes)),
          format_bytes(static_cast<double>(kMaxSegmentBytes))));
    }
  }
}

}  // namespace shmraft::bench
