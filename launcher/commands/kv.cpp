// `shmraft kv get|put|append|cas|del`: one client operation against a running cluster.
//
// Exit codes: 0 done (get prints the value, "" for an absent key), 1 error (no cluster, rejected),
// 2 bad command line, 3 cas did not match (prints "fail"), 4 outcome unknown (no answer in time: the
// write may or may not have been applied).
#include <iostream>
#include <memory>

#include "launcher/cli_options.h"
#include "launcher/client/client.h"
#include "launcher/commands/command.h"
#include "launcher/launcher_error.h"
#include "launcher/live_cluster.h"

namespace shmraft::launcher {

namespace {

constexpr int kExitCasFailed = 3;
constexpr int kExitUnknown = 4;

struct KvOptions {
  std::string cluster;
  uint32_t timeout_ms = 5000;
  kv::Op op = kv::Op::get;
  std::string key;
  std::string value;
  std::string expected;
};

int run_kv(const KvOptions& options) {
  LiveCluster::attach(options.cluster);  // a clear error when it is not running
  client::ClientOptions client_options;
  client_options.operation_timeout = std::chrono::milliseconds(options.timeout_ms);
  std::optional<client::Client> client;
  try {
    client.emplace(options.cluster, client_options);
  } catch (const ipc::SegmentError& e) {
    throw LauncherError(e.what());
  }
  const client::Result result = client->execute({options.op, options.key, options.value, options.expected});
  switch (result.status) {
    case client::Status::ok:
      std::cout << (options.op == kv::Op::get ? result.value : std::string("ok")) << std::endl;
      return 0;
    case client::Status::cas_failed:
      std::cout << "fail" << std::endl;
      return kExitCasFailed;
    case client::Status::unknown:
      std::cerr << "shmraft: no answer from cluster '" << options.cluster << "' within " << options.timeout_ms
                << " ms; the " << kv::to_string(options.op) << " may or may not have taken effect"
                << std::endl;
      return kExitUnknown;
    case client::Status::rejected:
      throw LauncherError("cluster '" + options.cluster + "' rejected the " +
                          std::string(kv::to_string(options.op)) + " as malformed or too large");
  }
  return 1;
}

CLI::App* add_op(CLI::App& kv_app, const std::string& name, const std::string& description, kv::Op op,
                 const std::shared_ptr<KvOptions>& options) {
  CLI::App* app = kv_app.add_subcommand(name, description);
  app->fallthrough();  // -c and --timeout may come after the operation too
  app->callback([options, op] { options->op = op; });
  app->add_option("key", options->key, "Key")->required();
  return app;
}

}  // namespace

void add_kv_command(CLI::App& root, CommandList& commands) {
  auto options = std::make_shared<KvOptions>();
  CLI::App* app = root.add_subcommand("kv", "One KV operation against a running cluster");
  app->require_subcommand(1);
  app->footer("Exit codes: 0 ok, 1 error, 2 usage, 3 cas did not match, 4 outcome unknown (timeout).");
  add_cluster_option(*app, options->cluster);
  app->add_option("--timeout", options->timeout_ms, "Give up after this many milliseconds (outcome unknown)")
      ->check(CLI::Range(1u, 3'600'000u))
      ->capture_default_str();

  add_op(*app, "get", "Print the value of KEY (empty when absent)", kv::Op::get, options);
  add_op(*app, "put", "Set KEY to VALUE", kv::Op::put, options)
      ->add_option("value", options->value, "Value")
      ->required();
  add_op(*app, "append", "Append VALUE to the value of KEY", kv::Op::append, options)
      ->add_option("value", options->value, "Value")
      ->required();
  CLI::App* cas =
      add_op(*app, "cas", "Set KEY to NEW if it holds EXPECTED (absent = \"\")", kv::Op::cas, options);
  cas->add_option("expected", options->expected, "Expected current value")->required();
  cas->add_option("new", options->value, "New value")->required();
  add_op(*app, "del", "Delete KEY", kv::Op::del, options);
  commands.push_back({app, [options] { return run_kv(*options); }});
}

}  // namespace shmraft::launcher
