#include "bench/kit/host_info.h"

#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "bench/kit/units.h"

namespace shmraft::bench {

namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

template <typename Number>
void parse_number(std::string_view text, Number& out) {
  Number value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc() && end == text.data() + text.size()) out = value;
}

}  // namespace

void parse_cpuinfo(std::string_view cpuinfo, HostInfo& host) {
  while (!cpuinfo.empty()) {
    const auto eol = cpuinfo.find('\n');
    const std::string_view line = cpuinfo.substr(0, eol);
    cpuinfo = eol == std::string_view::npos ? std::string_view{} : cpuinfo.substr(eol + 1);
    if (trim(line).empty()) {
      if (!host.cpu_vendor.empty()) return;  // the end of the first processor's block
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (key == "vendor_id") {
      host.cpu_vendor = value;
    } else if (key == "model name") {
      host.cpu_model_name = value;
    } else if (key == "cpu family") {
      parse_number(value, host.cpu_family);
    } else if (key == "model") {
      parse_number(value, host.cpu_model);
    } else if (key == "cpu MHz") {
      parse_number(value, host.cpu_mhz);
    }
  }
}

HostInfo read_host_info() {
  HostInfo host;
  std::ifstream in("/proc/cpuinfo");
  std::stringstream text;
  text << in.rdbuf();
  parse_cpuinfo(text.str(), host);
  utsname name{};
  if (uname(&name) == 0) host.kernel = fmt::format("{} {} {}", name.sysname, name.release, name.version);
  host.cpus = sysconf(_SC_NPROCESSORS_ONLN);
  return host;
}

nlohmann::json to_json(const HostInfo& host) {
  return nlohmann::json{{"cpu_vendor", host.cpu_vendor},
                        {"cpu_family", host.cpu_family},
                        {"cpu_model", host.cpu_model},
                        {"cpu_model_name", host.cpu_model_name},
                        {"cpu_mhz", host.cpu_mhz},
                        {"kernel", host.kernel},
                        {"cpus", host.cpus},
                        {"cache_line_round_trip_ns", host.cache_line_round_trip_ns},
                        {"cache_line_round_trip_p50_ns", host.cache_line_round_trip_p50_ns}};
}

std::string to_text(const HostInfo& host) {
  std::string out = fmt::format("{} family {} model {}", host.cpu_vendor.empty() ? "CPU" : host.cpu_vendor,
                                host.cpu_family, host.cpu_model);
  if (!host.cpu_model_name.empty()) out += fmt::format(" ({})", host.cpu_model_name);
  if (host.cpu_mhz > 0) out += fmt::format(" {:.0f} MHz", host.cpu_mhz);
  out += fmt::format(" · {} CPUs · {}", host.cpus,
                     host.kernel.substr(0, host.kernel.find(' ', host.kernel.find(' ') + 1)));
  if (host.cache_line_round_trip_ns > 0) {
    out += fmt::format(" · cache-line round trip {} (p50 {})",
                       format_ns(static_cast<double>(host.cache_line_round_trip_ns)),
                       format_ns(static_cast<double>(host.cache_line_round_trip_p50_ns)));
  }
  return out;
}

}  // namespace shmraft::bench
