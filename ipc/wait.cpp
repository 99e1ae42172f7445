#include "ipc/wait.h"

#include <array>
#include <stdexcept>

namespace shmraft::ipc {

namespace {
constexpr std::array<std::pair<std::string_view, WaitStrategy>, 4> kStrategies{{
    {"spin", WaitStrategy::spin},
    {"yield", WaitStrategy::yield},
    {"block", WaitStrategy::block},
    {"adaptive", WaitStrategy::adaptive},
}};
}  // namespace

std::string_view to_string(WaitStrategy strategy) noexcept {
  for (const auto& [name, value] : kStrategies)
    if (value == strategy) return name;
  return "unknown";
}

std::optional<WaitStrategy> parse_wait_strategy(std::string_view name) noexcept {
  for (const auto& [known, value] : kStrategies)
    if (known == name) return value;
  return std::nullopt;
}

std::string wait_strategy_names() {
  std::string names;
  for (const auto& [name, value] : kStrategies) {
    if (!names.empty()) names += '|';
    names += name;
  }
  return names;
}

WaitStrategy parse_wait_strategy_or_throw(std::string_view name) {
  if (auto strategy = parse_wait_strategy(name)) return *strategy;
  throw std::invalid_argument("unknown wait strategy '" + std::string(name) + "' (expected one of " +
                              wait_strategy_names() + ")");
}

}  // namespace shmraft::ipc
