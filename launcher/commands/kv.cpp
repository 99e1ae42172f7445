// `shmraft kv get|put|append|cas|del`: one client operation against a running cluster.
//
// Exit codes: 0 done (get prints the value), 1 error (no cluster, rejected, too large), 2 bad command
// line, 3 cas did not match (prints "fail"), 4 outcome unknown (no answer in time: the write may or may
// not have been applied), 5 get of a key that holds no value (prints nothing; an empty value exits 0).
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>

#include "launcher/cli_options.h"
#include "launcher/client/client.h"
#include "launcher/commands/command.h"
#include "launcher/launcher_error.h"
#include "launcher/live_cluster.h"

namespace shmraft::launcher {

namespace {

constexpr int kExitCasFailed = 3;
constexpr int kExitUnknown = 4;
constexpr int kExitNotFound = 5;
constexpr const char* kStdinValue = "-";

struct KvOptions {
  std::string cluster;
  uint32_t timeout_ms = 5000;
  kv::Op op = kv::Op::get;
  std::string key;
  std::string value;
  std::string expected;
  bool json = false;  // get: print {"key", "found", "value"}
};

std::string read_stdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

std::string describe_bytes(std::size_t bytes) {
  return std::to_string(bytes) + " bytes";
}

// Refuses, before anything is sent, a request the cluster's client rings cannot carry. (An append that
// would grow its key past what a get reply carries is refused by the cluster itself: the client sends
// that bound with every append and each replica checks it when it applies the append.)
void check_size(client::Client& client, const KvOptions& options) {
  const std::size_t limit = client.async().max_request_bytes();
  const std::size_t request = options.key.size() + options.value.size() + options.expected.size();
  if (request > limit) {
    throw LauncherError("the " + std::string(kv::to_string(options.op)) + " carries " +
                        describe_bytes(request) + ", more than the " + describe_bytes(limit) +
                        " a request to cluster '" + options.cluster +
                        "' can carry; start the cluster with a larger --client-ring");
  }
}

int run_kv(KvOptions options) {
  if (options.value == kStdinValue) options.value = read_stdin();
  LiveCluster::attach(options.cluster);  // a clear error when it is not running
  client::ClientOptions client_options;
  client_options.operation_timeout = std::chrono::milliseconds(options.timeout_ms);
  std::optional<client::Client> client;
  try {
    client.emplace(options.cluster, client_options);
  } catch (const ipc::SegmentError& e) {
    throw LauncherError(e.what());
  }
  check_size(*client, options);
  const client::Result result = client->execute({options.op, options.key, options.value, options.expected});
  switch (result.status) {
    case client::Status::ok:
      if (options.op != kv::Op::get) {
        std::cout << "ok" << std::endl;
      } else if (options.json) {
        const nlohmann::json answer{{"key", options.key}, {"found", result.found}, {"value", result.value}};
        std::cout << answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
      } else if (result.found) {
        std::cout << result.value << std::endl;
      }
      return options.op == kv::Op::get && !result.found ? kExitNotFound : kExitOk;
    case client::Status::cas_failed:
      std::cout << "fail" << std::endl;
      return kExitCasFailed;
    case client::Status::unknown:
      std::cerr << "shmraft: no answer from cluster '" << options.cluster << "' within " << options.timeout_ms
                << " ms; the " << kv::to_string(options.op) << " may or may not have taken effect"
                << std::endl;
      return kExitUnknown;
    case client::Status::rejected:
      if (options.op == kv::Op::append)
        throw LauncherError("cluster '" + options.cluster + "' refused the append: '" + options.key +
                            "' would grow past the " + describe_bytes(client->async().max_append_bound()) +
                            " a get reply carries (start the cluster with a larger --client-ring); "
                            "nothing changed");
      throw LauncherError("cluster '" + options.cluster + "' rejected the " +
                          std::string(kv::to_string(options.op)) + " as malformed or too large");
  }
  return kExitRuntime;
}

CLI::App* add_op(CLI::App& kv_app, const std::string& name, const std::string& description, kv::Op op,
                 const std::shared_ptr<KvOptions>& options) {
  CLI::App* app = kv_app.add_subcommand(name, description);
  app->fallthrough();  // -c and --timeout-ms may come after the operation too
  app->callback([options, op] { options->op = op; });
  app->add_option("key", options->key, "Key")->required();
  return app;
}

void add_value(CLI::App& app, const std::string& name, std::string& value, const std::string& description) {
  app.add_option(name, value, description + " (- reads it from stdin, e.g. a file of any bytes)")->required();
}

}  // namespace

void add_kv_command(CLI::App& root, CommandList& commands) {
  auto options = std::make_shared<KvOptions>();
  CLI::App* app = root.add_subcommand("kv", "One KV operation against a running cluster");
  app->require_subcommand(1);
  app->footer(
      "Exit codes: 0 ok, 1 error (no cluster, rejected, too large), 2 usage, 3 cas did not match,\n"
      "4 outcome unknown (no answer within --timeout-ms: a write may or may not have taken effect),\n"
      "5 get of a key that holds no value (an empty value exits 0).");
  add_cluster_option(*app, options->cluster);
  add_timeout_option(*app, options->timeout_ms, "Give up after this long (the outcome is then unknown)");

  add_op(*app, "get", "Print the value of KEY (exit 5 when it holds none)", kv::Op::get, options)
      ->add_flag("--json", options->json, "Print {\"key\", \"found\", \"value\"} (non-UTF-8 bytes replaced)");
  add_value(*add_op(*app, "put", "Set KEY to VALUE", kv::Op::put, options), "value", options->value, "Value");
  add_value(*add_op(*app, "append", "Append VALUE to the value of KEY", kv::Op::append, options), "value",
            options->value, "Value to append");
  CLI::App* cas =
      add_op(*app, "cas", "Set KEY to NEW if it holds EXPECTED (absent = \"\")", kv::Op::cas, options);
  cas->add_option("expected", options->expected, "Expected current value")->required();
  add_value(*cas, "new", options->value, "New value");
  add_op(*app, "del", "Delete KEY", kv::Op::del, options);
  commands.push_back({app, [options] { return run_kv(*options); }});
}

}  // namespace shmraft::launcher
