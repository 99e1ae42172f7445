#include "bench/kit/histogram_io.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace shmraft::bench {

namespace {

// A serialized histogram is a few KiB; anything claiming more than this is not one.
constexpr uint32_t kMaxSerializedBytes = 64u << 20;

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("write_histogram: ") + std::strerror(errno));
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// Reads exactly `size` bytes; returns how many it got before the end of the stream.
std::size_t read_up_to(int fd, char* data, std::size_t size) {
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, data + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("read_histogram: ") + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got;
}

}  // namespace

void write_histogram(int fd, const Histogram& histogram) {
  const std::string bytes = histogram.serialize();
  const auto length = static_cast<uint32_t>(bytes.size());
  const char prefix[4] = {static_cast<char>(length), static_cast<char>(length >> 8),
                          static_cast<char>(length >> 16), static_cast<char>(length >> 24)};
  write_all(fd, prefix, sizeof prefix);
  write_all(fd, bytes.data(), bytes.size());
}

std::optional<Histogram> read_histogram(int fd) {
  unsigned char prefix[4];
  const std::size_t got = read_up_to(fd, reinterpret_cast<char*>(prefix), sizeof prefix);
  if (got == 0) return std::nullopt;
  if (got < sizeof prefix) throw std::runtime_error("read_histogram: stream ends inside a length prefix");
  const uint32_t length =
      prefix[0] | prefix[1] << 8 | prefix[2] << 16 | static_cast<uint32_t>(prefix[3]) << 24;
  if (length > kMaxSerializedBytes) {
    throw std::invalid_argument("read_histogram: length " + std::to_string(length) + " is not a histogram's");
  }
  std::string bytes(length, '\0');
  if (read_up_to(fd, bytes.data(), length) < length) {
    throw std::runtime_error("read_histogram: stream ends inside a histogram");
  }
  return Histogram::deserialize(bytes);
}

}  // namespace shmraft::bench
