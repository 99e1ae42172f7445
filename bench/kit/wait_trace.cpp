#include "bench/kit/wait_trace.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <charconv>
#include <ctime>
#include <stdexcept>

#include "bench/kit/floor.h"
#include "bench/kit/host_info.h"

namespace shmraft::bench {

namespace {

// The strategy whose wait is the learner's step: its pause loop, its yield loop, or the futex at once.
ipc::WaitStrategy strategy_of(ipc::IdleStep step) noexcept {
  switch (step) {
    case ipc::IdleStep::pause:
      return ipc::WaitStrategy::spin_block;
    case ipc::IdleStep::yield:
      return ipc::WaitStrategy::yield;
    case ipc::IdleStep::sleep:
      break;
  }
  return ipc::WaitStrategy::block;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%MZ", &tm);
  return text;
}

std::string_view next_word(std::string_view& line) {
  const std::size_t start = line.find_first_not_of(' ');
  if (start == std::string_view::npos) return {};
  line.remove_prefix(start);
  const std::size_t end = std::min(line.find(' '), line.size());
  const std::string_view word = line.substr(0, end);
  line.remove_prefix(end);
  return word;
}

}  // namespace

std::chrono::nanoseconds WaitTrace::mean(ipc::IdleStep step) const noexcept {
  uint64_t sum = 0;
  for (uint64_t value : percentiles[static_cast<int>(step)]) sum += value;
  return std::chrono::nanoseconds(sum / kPercentiles);
}

std::chrono::nanoseconds WaitTrace::draw(ipc::IdleStep step, std::mt19937_64& rng) const noexcept {
  std::uniform_int_distribution<int> pick(0, kPercentiles - 1);
  return std::chrono::nanoseconds(percentiles[static_cast<int>(step)][pick(rng)]);
}

WaitTrace record_wait_trace(uint32_t nodes, uint64_t rounds) {
  WaitTrace trace;
  double load[3] = {};
  getloadavg(load, 3);
  HostInfo host = read_host_info();
  trace.comments.push_back("host: " + to_text(host));
  trace.comments.push_back(fmt::format(
      "recorded {}, load average {:.2f} {:.2f} {:.2f}: the commit round of {} nodes ({} processes), "
      "up to {} rounds per step",
      utc_now(), load[0], load[1], load[2], nodes, nodes + 1, rounds));
  for (int step = 0; step < ipc::kIdleSteps; ++step) {
    FloorSpec spec = commit_floor_spec(nodes);
    spec.wait = strategy_of(static_cast<ipc::IdleStep>(step));
    spec.rounds = rounds;
    const FloorResult floor = measure_floor(spec);
    for (int p = 0; p < WaitTrace::kPercentiles; ++p)
      trace.percentiles[step][p] = floor.round_trip.value_at_percentile(p + 1);
  }
  return trace;
}

std::string to_text(const WaitTrace& trace) {
  std::string out;
  for (const std::string& comment : trace.comments) out += "# " + comment + "\n";
  for (int step = 0; step < ipc::kIdleSteps; ++step) {
    out += ipc::to_string(static_cast<ipc::IdleStep>(step));
    for (uint64_t value : trace.percentiles[step]) out += fmt::format(" {}", value);
    out += "\n";
  }
  return out;
}

WaitTrace parse_wait_trace(std::string_view text) {
  WaitTrace trace;
  bool seen[ipc::kIdleSteps] = {};
  int line_number = 0;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    ++line_number;
    const auto fail = [&](std::string_view why) {
      throw std::invalid_argument(fmt::format("wait trace line {}: {}", line_number, why));
    };
    if (line.starts_with('#')) {
      line.remove_prefix(line.starts_with("# ") ? 2 : 1);
      trace.comments.emplace_back(line);
      continue;
    }
    const std::string_view name = next_word(line);
    if (name.empty()) continue;
    int step = 0;
    while (step < ipc::kIdleSteps && ipc::to_string(static_cast<ipc::IdleStep>(step)) != name) ++step;
    if (step == ipc::kIdleSteps) fail(fmt::format("'{}' is not a step (pause, yield, sleep)", name));
    if (seen[step]) fail(fmt::format("step '{}' given twice", name));
    seen[step] = true;
    for (int p = 0; p < WaitTrace::kPercentiles; ++p) {
      const std::string_view word = next_word(line);
      uint64_t value = 0;
      const auto [rest, error] = std::from_chars(word.data(), word.data() + word.size(), value);
      if (word.empty()) fail(fmt::format("{} percentiles, expected {}", p, WaitTrace::kPercentiles));
      if (error != std::errc() || rest != word.data() + word.size())
        fail(fmt::format("'{}' is not a number of nanoseconds", word));
      if (p > 0 && value < trace.percentiles[step][p - 1]) fail("percentiles must not fall");
      trace.percentiles[step][p] = value;
    }
    if (!next_word(line).empty()) fail(fmt::format("more than {} percentiles", WaitTrace::kPercentiles));
  }
  for (int step = 0; step < ipc::kIdleSteps; ++step)
    if (!seen[step])
      throw std::invalid_argument(
          fmt::format("wait trace: step '{}' missing", ipc::to_string(static_cast<ipc::IdleStep>(step))));
  return trace;
}

}  // namespace shmraft::bench
