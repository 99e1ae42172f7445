#pragma once
// The host a benchmark ran on, recorded with its figures: the same commit is 90 ns of cache-line round
// trip on one CPU and 411 ns on another, so a figure without its host cannot be compared.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace shmraft::bench {

struct HostInfo {
  std::string cpu_vendor;      // e.g. "AuthenticAMD"
  std::string cpu_model_name;  // e.g. "AMD EPYC"
  int cpu_family = -1;         // -1: not reported
  int cpu_model = -1;
  double cpu_mhz = 0;  // of the first CPU listed, at the time of reading; 0: not reported
  std::string kernel;  // uname: system, release and version
  long cpus = 0;       // online
  // The bare cache-line round trip: a token between 2 processes spinning with pause and no futex (the
  // 2-process ring floor under the spin strategy). Its fastest round is the cache line's own cost; its
  // median is that too on a quiet host, and the scheduler's time slice on a busy one (two spinners
  // sharing a CPU with other work). 0: not measured.
  uint64_t cache_line_round_trip_ns = 0;      // fastest round
  uint64_t cache_line_round_trip_p50_ns = 0;  // median round
};

// The CPU fields of /proc/cpuinfo's text (its first processor block).
void parse_cpuinfo(std::string_view cpuinfo, HostInfo& host);

// This host: /proc/cpuinfo, uname and the online CPU count (the round trip is measured separately).
HostInfo read_host_info();

// {"cpu_vendor", "cpu_family", "cpu_model", "cpu_model_name", "cpu_mhz", "kernel", "cpus",
//  "cache_line_round_trip_ns", "cache_line_round_trip_p50_ns"}
nlohmann::json to_json(const HostInfo& host);

// "AuthenticAMD family 26 model 2 (AMD EPYC) 2695 MHz · 2 CPUs · Linux 6.18.44 · cache-line round trip 411
// ns"
std::string to_text(const HostInfo& host);

}  // namespace shmraft::bench
