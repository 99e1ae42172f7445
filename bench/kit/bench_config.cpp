#include "bench/kit/bench_config.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "ipc/wait.h"

namespace shmraft::bench {

namespace {

std::string plural(uint64_t n, const char* word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

[[noreturn]] void reject(const std::string& why) {
  throw std::invalid_argument(why);
}

}  // namespace

std::string BenchConfig::describe() const {
  const std::string loop =
      open_loop() ? fmt::format("open loop at {:.0f} ops/s", rate_ops_per_s) : "closed loop";
  std::string mix;
  if (reads > 0) mix += fmt::format(", {:g} % reads", reads * 100);
  if (keys > 0) mix += fmt::format(", {} keys {}", keys, key_dist);
  return fmt::format("{}, {} × pipeline {} ({} in flight, {}{}), {} B{}, fsync {}, wait {}, {}, {}",
                     plural(nodes, "node"), plural(clients, "client"), pipeline, in_flight(),
                     plural(client_threads, "client thread"), in_leader ? " in-leader" : "", payload_bytes,
                     mix, fsync, wait, transport, loop) +
         (realtime ? ", realtime" : "");
}

std::string BenchConfig::series_label() const {
  std::string label =
      fmt::format("{}, {} B, fsync {}, {}", plural(nodes, "node"), payload_bytes, fsync, transport);
  if (pipeline != 1) label += fmt::format(", pipeline {}", pipeline);
  if (reads > 0) label += fmt::format(", {:g} % reads", reads * 100);
  if (keys > 0) label += fmt::format(", {} keys {}", keys, key_dist);
  if (open_loop()) label += fmt::format(", {:.0f} ops/s", rate_ops_per_s);
  if (in_leader) label += ", in-leader";
  if (realtime) label += ", realtime";
  return label;
}

void to_json(nlohmann::json& out, const BenchConfig& c) {
  out =
      nlohmann::json{{"nodes", c.nodes},
                     {"clients", c.clients},
                     {"client_threads", c.client_threads},
                     {"pipeline", c.pipeline},
                     {"in_flight", c.in_flight()},
                     {"reads", c.reads},
                     {"keys", c.keys == 0 ? nlohmann::json() : nlohmann::json(c.keys)},
                     {"key_dist", c.keys == 0 ? nlohmann::json() : nlohmann::json(c.key_dist)},
                     {"payload_bytes", c.payload_bytes},
                     {"fsync", c.fsync},
                     {"wait", c.wait},
                     {"transport", c.transport},
                     {"loop", c.open_loop() ? "open" : "closed"},
                     {"rate_ops_per_s", c.open_loop() ? nlohmann::json(c.rate_ops_per_s) : nlohmann::json()},
                     {"warmup_s", std::chrono::duration<double>(c.warmup).count()},
                     {"measure_s", std::chrono::duration<double>(c.measure).count()},
                     {"in_leader", c.in_leader},
                     {"realtime", c.realtime}};
}

BenchConfig config_from_json(const nlohmann::json& in) {
  const auto field = [&in](const char* name) -> const nlohmann::json& {
    const auto it = in.find(name);
    if (it == in.end()) reject(fmt::format("benchmark configuration: no field '{}'", name));
    return *it;
  };
  const auto seconds = [](double s) {
    return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(s * 1e9)));
  };
  try {
    BenchConfig c;
    c.nodes = field("nodes").get<uint32_t>();
    c.clients = field("clients").get<uint32_t>();
    c.client_threads = field("client_threads").get<uint32_t>();
    c.pipeline = field("pipeline").get<uint32_t>();
    c.payload_bytes = field("payload_bytes").get<uint32_t>();
    c.fsync = field("fsync").get<std::string>();
    c.wait = field("wait").get<std::string>();
    c.transport = field("transport").get<std::string>();
    c.rate_ops_per_s = field("rate_ops_per_s").is_null() ? 0 : field("rate_ops_per_s").get<double>();
    c.reads = field("reads").get<double>();
    c.keys = field("keys").is_null() ? 0 : field("keys").get<uint32_t>();
    if (c.keys > 0) c.key_dist = field("key_dist").get<std::string>();
    c.warmup = seconds(field("warmup_s").get<double>());
    c.measure = seconds(field("measure_s").get<double>());
    c.in_leader = field("in_leader").get<bool>();
    c.realtime = in.value("realtime", false);  // reports of builds before the flag
    return c;
  } catch (const nlohmann::json::exception& e) {
    reject(std::string("benchmark configuration: ") + e.what());
  }
}

void validate(const BenchConfig& c, const BenchLimits& limits) {
  if (c.nodes == 0 || c.nodes > limits.max_nodes) {
    reject(fmt::format("--nodes {} is out of range 1..{}", c.nodes, limits.max_nodes));
  }
  if (c.clients == 0 || c.clients > limits.max_clients) {
    reject(fmt::format("--clients {} is out of range 1..{}", c.clients, limits.max_clients));
  }
  if (c.client_threads > c.clients) {
    reject(fmt::format("--client-threads {} exceeds --clients {}: a thread drives at least one client",
                       c.client_threads, c.clients));
  }
  if (c.pipeline == 0) reject("--pipeline must be at least 1");
  if (!std::isfinite(c.reads) || c.reads < 0 || c.reads > 1)
    reject(fmt::format("--reads {} is not a fraction between 0 and 1", c.reads));
  if (c.key_dist != "uniform" && c.key_dist != "zipfian")
    reject("--key-dist '" + c.key_dist + "' is not uniform or zipfian");
  if (c.payload_bytes > limits.max_payload_bytes) {
    reject(fmt::format("--payload {} exceeds the largest ring frame's command, {} bytes", c.payload_bytes,
                       limits.max_payload_bytes));
  }
  if (c.fsync != "none" && c.fsync != "batch" && c.fsync != "always") {
    reject("--fsync '" + c.fsync + "' is not one of none, batch, always");
  }
  if (!ipc::parse_wait_strategy(c.wait)) {
    reject("--wait '" + c.wait + "' is not one of " + ipc::wait_strategy_names());
  }
  if (c.transport != "shm" && c.transport != "tcp")
    reject("--transport '" + c.transport + "' is not shm or tcp");
  if (!std::isfinite(c.rate_ops_per_s) || c.rate_ops_per_s < 0) {
    reject(fmt::format("--rate {} must be a positive number of ops/s", c.rate_ops_per_s));
  }
  // Little's law: the rate times the least possible latency is how many operations must be in flight.
  const double in_flight = c.rate_ops_per_s * limits.min_commit_ns * 1e-9;
  if (c.open_loop() && in_flight > static_cast<double>(c.clients) * c.pipeline) {
    reject(fmt::format(
        "--rate {:.0f} cannot be met by {} × pipeline {}: even at {:.0f} ns per commit it needs {:.0f} "
        "operations in flight; raise --clients or --pipeline",
        c.rate_ops_per_s, plural(c.clients, "client"), c.pipeline, limits.min_commit_ns,
        std::ceil(in_flight)));
  }
  if (c.warmup.count() < 0) reject("--warmup must not be negative");
  if (c.measure.count() <= 0) reject("--duration must be positive");
}

}  // namespace shmraft::bench
