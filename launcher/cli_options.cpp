#include "launcher/cli_options.h"

#include "ipc/segment.h"

namespace shmraft::launcher {

const CLI::Validator& cluster_name_validator() {
  static const CLI::Validator validator(
      [](std::string& name) -> std::string {
        try {
          ipc::Segment::object_name(name);
          return {};
        } catch (const std::exception&) {
          return "cluster name '" + name + "' must be 1-64 characters of [A-Za-z0-9_-]";
        }
      },
      "NAME");
  return validator;
}

const CLI::Validator& node_id_validator() {
  static const CLI::Validator validator(
      [](std::string& input) -> std::string {
        uint32_t id = 0;
        if (CLI::detail::lexical_cast(input, id) && id >= 1 && id <= ipc::kMaxNodes) return {};
        return "node id '" + input + "' out of range 1..N (nodes are numbered from 1; N is the cluster's " +
               "node count, at most " + std::to_string(ipc::kMaxNodes) + ")";
      },
      "NODE");
  return validator;
}

CLI::Option* add_cluster_option(CLI::App& app, std::string& cluster) {
  cluster = kDefaultCluster;
  return app.add_option("-c,--cluster", cluster, "Cluster name (names its shared-memory segment)")
      ->check(cluster_name_validator())
      ->capture_default_str();
}

CLI::Option* add_timeout_option(CLI::App& app, uint32_t& timeout_ms, const std::string& what) {
  return app.add_option("--timeout-ms", timeout_ms, what + " (milliseconds)")
      ->check(in_range(1u, 3'600'000u, "ms"))
      ->capture_default_str();
}

}  // namespace shmraft::launcher
