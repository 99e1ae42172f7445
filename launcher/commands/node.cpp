// `shmraft node`: one node process. Hidden from --help: the supervisor (`up`, `chaos`) execs it.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>

#include "launcher/commands/command.h"
#include "launcher/mm_keeper.h"
#include "node/process/node_options.h"
#include "node/process/node_process.h"

namespace shmraft::launcher {

namespace {

// How long a killed node's keeper holds its memory before the teardown: past the survivors' election
// (3.4 ms p50 on the loaded 2-core host) and most fail-over windows; the teardown then runs at idle
// priority (mm_keeper.h).
constexpr auto kKeeperLinger = std::chrono::milliseconds(20);

// Started first, while this process has one thread and only the files it inherited open. Without a
// keeper the node runs as well; only a kill's teardown lands back on the survivors' election.
MmKeeper start_keeper(uint32_t node) {
  try {
    return MmKeeper::start(kKeeperLinger);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmraft node %u: no memory keeper (%s): a kill's teardown is not deferred\n", node,
                 e.what());
    return MmKeeper();
  }
}

}  // namespace

void add_node_command(CLI::App& root, CommandList& commands) {
  auto options = std::make_shared<node::NodeOptions>();
  CLI::App* app = root.add_subcommand("node", "Run one node process (started by `up` and `chaos`)");
  app->group("");  // hidden
  node::add_node_flags(*app, *options);
  auto no_keeper = std::make_shared<bool>(false);
  app->add_flag("--no-keeper", *no_keeper,
                "Run without a memory keeper (launcher/mm_keeper.h), e.g. under valgrind, which cannot run "
                "a process that shares memory without being a thread");
  commands.push_back({app, [options, no_keeper] {
                        node::validate(*options);
                        // Killed and reaped when run() returns: an orderly stop leaves no process behind.
                        const MmKeeper keeper = *no_keeper ? MmKeeper() : start_keeper(options->node);
                        return node::run(*options);
                      }});
}

}  // namespace shmraft::launcher
