#include "ipc/wait.h"

#include <array>
#include <stdexcept>

namespace shmraft::ipc {

namespace {
constexpr std::array<std::pair<std::string_view, WaitStrategy>, 5> kStrategies{{
    {"spin", WaitStrategy::spin},
    {"yield", WaitStrategy::yield},
    {"block", WaitStrategy::block},
    {"adaptive", WaitStrategy::adaptive},
    {"spin-block", WaitStrategy::spin_block},
}};
}  // namespace

std::string_view to_string(IdleStep step) noexcept {
  switch (step) {
    case IdleStep::pause:
      return "pause";
    case IdleStep::yield:
      return "yield";
    case IdleStep::sleep:
      return "sleep";
  }
  return "unknown";
}

WaitPlan WaitLearner::next() const noexcept {
  const std::chrono::nanoseconds budget = budget_[after_idle_];
  if (budget <= std::chrono::nanoseconds::zero()) return {IdleStep::sleep, budget.zero()};
  IdleStep step = preferred_;
  for (int s = kIdleSteps - 1; s >= 0; --s)  // a step with no cost yet is tried first
    if (!costed_[s]) step = static_cast<IdleStep>(s);
  if (costed_[static_cast<std::size_t>(step)]) {  // each other step once per interval, half of one apart
    const uint32_t phase = waits_ % kExploreInterval;
    const uint32_t other = phase == kExploreInterval - 1 ? 1 : phase == kExploreInterval / 2 ? 2 : 0;
    if (other != 0) step = static_cast<IdleStep>((static_cast<uint32_t>(preferred_) + other) % kIdleSteps);
  }
  if (step == IdleStep::sleep) return {step, budget.zero()};
  return {step, budget};
}

std::chrono::nanoseconds WaitLearner::ranked_cost(std::size_t step) const noexcept {
  return cost_[step] * weight(static_cast<IdleStep>(step));
}

bool WaitLearner::idle(const WaitSample& sample) const noexcept {
  return !sample.ready || sample.waited > kIdleWaitFactor * spin_time_;
}

void WaitLearner::observe(const WaitSample& sample) noexcept {
  const bool was_idle = idle(sample);
  std::chrono::nanoseconds& budget = budget_[after_idle_];
  if (budget > std::chrono::nanoseconds::zero()) ++waits_;  // only waits that could explore count
  if (!was_idle) {
    const auto step = static_cast<std::size_t>(sample.step);
    cost_[step] = costed_[step] ? cost_[step] + (sample.waited - cost_[step]) / kCostWeight : sample.waited;
    costed_[step] = true;
    std::size_t cheapest = static_cast<std::size_t>(preferred_);
    for (std::size_t s = 0; s < kIdleSteps; ++s)
      if (costed_[s] && ranked_cost(s) < ranked_cost(cheapest)) cheapest = s;
    const auto current = static_cast<std::size_t>(preferred_);
    if (costed_[current] && ranked_cost(cheapest) * 8 < ranked_cost(current) * 7)
      preferred_ = static_cast<IdleStep>(cheapest);
  }
  if (sample.ready && sample.waited <= spin_time_) {
    budget = spin_time_;
  } else if (was_idle) {
    budget /= 2;
    if (budget < kMinSpinBudget) budget = std::chrono::nanoseconds::zero();
  }
  after_idle_ = was_idle;
}

std::optional<std::chrono::nanoseconds> WaitLearner::cost(IdleStep step) const noexcept {
  const auto s = static_cast<std::size_t>(step);
  if (!costed_[s]) return std::nullopt;
  return cost_[s];
}

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
