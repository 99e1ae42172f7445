#include "launcher/unknown_command.h"

namespace shmraft::launcher {

std::string unknown_command_message(CLI::App& app) {
  CLI::App* deepest = &app;
  for (bool descended = true; descended;) {
    descended = false;
    for (CLI::App* sub : deepest->get_subcommands()) {
      deepest = sub;
      descended = true;
      break;
    }
  }
  if (deepest->get_require_subcommand_min() == 0) return {};
  const std::vector<std::string> left = app.remaining(true);  // CLI11 may file the word under a parent
  if (left.empty() || left.front().empty() || left.front()[0] == '-') return {};
  std::string names;
  for (const CLI::App* sub :
       deepest->get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); })) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  const std::string where = deepest == &app ? std::string() : " of '" + deepest->get_name() + "'";
  return "unknown command '" + left.front() + "'" + where + " (commands: " + names + ")";
}

}  // namespace shmraft::launcher
