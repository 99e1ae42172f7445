#pragma once
// A node's output file (<root>/node<i>.out) is appended to by every start of that node. A node that exits
// at start-up says why in the first lines it writes, so whoever started it marks the file's end first
// and reports what that start wrote.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace shmraft::launcher {

class OutputMark {
 public:
  // Marks the current end of `path` (0 if it does not exist yet).
  explicit OutputMark(std::filesystem::path path);

  const std::filesystem::path& path() const noexcept { return path_; }
  // True once something was written after the mark.
  bool grew() const;
  // The first `max_lines` non-empty lines written after the mark, joined by " | "; "(no message)" if none.
  std::string first_lines(std::size_t max_lines = 3) const;

 private:
  std::filesystem::path path_;
  std::uintmax_t offset_ = 0;
};

}  // namespace shmraft::launcher
