#pragma once
// Moving histograms between processes: each client process of a benchmark writes its histogram to a
// pipe or file when done, and the parent merges them. Length-prefixed (u32, little-endian) serialize()
// bytes, so several can follow each other on one stream. Give each writer process its own pipe: a
// pipe keeps concurrent writes whole only up to PIPE_BUF, and a histogram is usually larger.
#include <cstdint>
#include <optional>

#include "bench/kit/histogram.h"

namespace shmraft::bench {

// Writes all of it, retrying on EINTR and short writes. Throws std::runtime_error on an I/O error.
void write_histogram(int fd, const Histogram& histogram);

// Reads one histogram; std::nullopt at a clean end of stream (no byte of a next one). Throws
// std::runtime_error on an I/O error or a stream that ends inside a histogram, std::invalid_argument for
// malformed bytes (see Histogram::deserialize).
std::optional<Histogram> read_histogram(int fd);

}  // namespace shmraft::bench
