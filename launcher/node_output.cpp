#include "launcher/node_output.h"

#include <fstream>

namespace shmraft::launcher {

namespace {

std::uintmax_t size_of(const std::filesystem::path& path) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

}  // namespace

OutputMark::OutputMark(std::filesystem::path path) : path_(std::move(path)), offset_(size_of(path_)) {}

bool OutputMark::grew() const {
  return size_of(path_) > offset_;
}

std::string OutputMark::first_lines(std::size_t max_lines) const {
  std::ifstream in(path_, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset_));
  std::string line, lines;
  for (std::size_t taken = 0; taken < max_lines && std::getline(in, line);) {
    if (line.empty()) continue;
    lines += (taken++ == 0 ? "" : " | ") + line;
  }
  return lines.empty() ? "(no message)" : lines;
}

}  // namespace shmraft::launcher
