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

const CLI::Validator& node_index_validator() {
  static const CLI::Validator validator = in_range(0u, ipc::kMaxNodes - 1).name("NODE");
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
