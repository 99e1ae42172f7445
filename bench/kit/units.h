#pragma once
// Human-readable numbers for progress lines, tables and the HTML report.
#include <cstdint>
#include <string>

namespace shmraft::bench {

// 850 -> "850 ns", 2410 -> "2.41 µs", 31'200'000 -> "31.2 ms", 2.5e9 -> "2.50 s" (three significant digits).
std::string format_ns(double ns);
// 412'345 -> "412 K", 1'234'567 -> "1.23 M", 999 -> "999".
std::string format_count(double count);
// 1536 -> "1.50 KiB", 8'388'608 -> "8.00 MiB".
std::string format_bytes(double bytes);

}  // namespace shmraft::bench
