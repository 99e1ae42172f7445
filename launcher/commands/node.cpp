// `shmraft node`: one node process. Hidden from --help: the supervisor (`up`, `chaos`) execs it.
#include <memory>

#include "launcher/commands/command.h"
#include "node/process/node_options.h"
#include "node/process/node_process.h"

namespace shmraft::launcher {

void add_node_command(CLI::App& root, CommandList& commands) {
  auto options = std::make_shared<node::NodeOptions>();
  CLI::App* app = root.add_subcommand("node", "Run one node process (started by `up` and `chaos`)");
  app->group("");  // hidden
  node::add_node_flags(*app, *options);
  commands.push_back({app, [options] {
                        node::validate(*options);
                        return node::run(*options);
                      }});
}

}  // namespace shmraft::launcher
