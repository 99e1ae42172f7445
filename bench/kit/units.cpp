#include "bench/kit/units.h"

#include <fmt/format.h>

#include <cmath>

namespace shmraft::bench {

namespace {

// Three significant digits: 2.41, 24.1, 241. Thresholds sit where rounding would add a digit, so
// 999.7 becomes the next unit's "1.00" rather than "1000".
std::string three_digits(double v, const char* unit) {
  const double magnitude = std::fabs(v);
  const int decimals = magnitude < 9.995 ? 2 : magnitude < 99.95 ? 1 : 0;
  return fmt::format("{:.{}f} {}", v, decimals, unit);
}

}  // namespace

std::string format_ns(double ns) {
  if (!std::isfinite(ns)) return "n/a";
  const double magnitude = std::fabs(ns);
  if (magnitude < 999.5) return fmt::format("{:.0f} ns", ns);
  if (magnitude < 999.5e3) return three_digits(ns / 1e3, "µs");
  if (magnitude < 999.5e6) return three_digits(ns / 1e6, "ms");
  return three_digits(ns / 1e9, "s");
}

std::string format_count(double count) {
  if (!std::isfinite(count)) return "n/a";
  const double magnitude = std::fabs(count);
  if (magnitude < 999.5) return fmt::format("{:.0f}", count);
  if (magnitude < 999.5e3) return three_digits(count / 1e3, "K");
  if (magnitude < 999.5e6) return three_digits(count / 1e6, "M");
  return three_digits(count / 1e9, "G");
}

std::string format_bytes(double bytes) {
  if (!std::isfinite(bytes)) return "n/a";
  if (std::fabs(bytes) < 1023.5) return fmt::format("{:.0f} B", bytes);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = bytes / 1024;
  int u = 0;
  while (std::fabs(v) >= 1023.5 && u < 3) {
    v /= 1024;
    ++u;
  }
  return three_digits(v, units[u]);
}

}  // namespace shmraft::bench
