#pragma once
// What bench_snapshot and bench_kv_restore share: their flags (a key space of `keys` values of
// `value_bytes`, `runs` interleaved runs, files in `dir`), a series of timings printed as median, min and
// max, and the floor both are held to — writing and flushing the same bytes to a fresh file.
#include <fcntl.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "ipc/clock.h"
#include "node/storage/file.h"

namespace shmraft::bench {

struct ImageArgs {
  uint64_t keys = 100'000;
  std::size_t value_bytes = 64;
  int runs = 5;
  std::filesystem::path dir = std::filesystem::temp_directory_path();
  std::size_t shared_mib = 0;  // bench_snapshot only (`with_shared_mib`)
};

// Parses `--keys N --value-bytes B --runs R --dir D [--shared-mib M]` over `defaults`; a bad flag or
// value (or a --dir that is not a directory) prints the usage and exits 2.
inline ImageArgs parse_image_args(int argc, char** argv, const char* program, ImageArgs defaults,
                                  bool with_shared_mib) {
  ImageArgs a = defaults;
  const auto usage = [&](const char* what) {
    std::fprintf(stderr, "%susage: %s [--keys N] [--value-bytes B] [--runs R] [--dir D]%s\n", what, program,
                 with_shared_mib ? " [--shared-mib M]" : "");
    std::exit(2);
  };
  if (argc % 2 == 0) usage("every flag takes a value\n");
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--keys")
      a.keys = std::strtoull(v, nullptr, 10);
    else if (flag == "--value-bytes")
      a.value_bytes = std::strtoull(v, nullptr, 10);
    else if (flag == "--runs")
      a.runs = std::atoi(v);
    else if (flag == "--dir")
      a.dir = v;
    else if (flag == "--shared-mib" && with_shared_mib)
      a.shared_mib = std::strtoull(v, nullptr, 10);
    else
      usage(("unknown flag " + flag + "\n").c_str());
  }
  if (a.runs < 1) usage("--runs must be at least 1\n");
  // Checked before the minutes of filling the table, and without an uncaught exception after them.
  if (std::error_code ec; !std::filesystem::is_directory(a.dir, ec))
    usage(("--dir " + a.dir.string() + ": no such directory\n").c_str());
  return a;
}

// Timings of one kind, in the unit the benchmark prints.
struct Series {
  const char* name;
  std::vector<double> values;
  void print() {
    std::sort(values.begin(), values.end());
    std::printf("  %-46s median %10.1f   min %10.1f   max %10.1f\n", name, values[values.size() / 2],
                values.front(), values.back());
  }
};

// Writes `bytes` to a fresh `file` (0600) and fdatasyncs it; returns the microseconds taken.
inline double write_and_flush_us(const std::filesystem::path& file, std::span<const std::byte> bytes) {
  const uint64_t start = ipc::monotonic_ns();
  {
    const storage::UniqueFd fd = storage::open_file(file, O_WRONLY | O_CREAT | O_TRUNC);
    storage::write_all_at(fd.get(), bytes.data(), bytes.size(), 0, file);
    storage::sync_file_data(fd.get(), file);
  }
  return static_cast<double>(ipc::monotonic_ns() - start) / 1000;
}

}  // namespace shmraft::bench
