#pragma once
// Client histories in the JSON-lines format of DESIGN.md §6, one operation per line:
//   {"client":3,"op":"put","key":"k1","value":"v","expect":null,"output":"ok","call":123,"return":456}
//
// op ∈ put | get | append | cas | delete. `value` is the written value (put, append; the new value for
// cas) and null for get/delete; `expect` is cas's expected value and null otherwise. `output`: the value
// read for get ("" for an absent key), "ok"/"fail" for cas, "ok" otherwise. `call`/`return` are ns of
// CLOCK_MONOTONIC taken before the first send and after the final reply. An operation of unknown outcome
// (timeout, crash of its server) has "return":null (and "output":null): it may have taken effect at any
// time after its call, or never. An operation known not to have been applied is left out.
// Extra fields are ignored by the reader, so writers may add their own (e.g. a log index).
#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace shmraft::checker {

enum class OpKind : uint8_t { put, get, append, cas, del };

// "put", "get", "append", "cas", "delete".
std::string_view to_string(OpKind kind) noexcept;

struct Operation {
  uint64_t client = 0;
  OpKind op = OpKind::get;
  std::string key;
  std::string value;   // put/append value, cas new value; empty for get/delete
  std::string expect;  // cas only
  std::string output;  // meaningful only when ret is set
  uint64_t call = 0;
  std::optional<uint64_t> ret;  // nullopt: outcome unknown

  bool known() const noexcept { return ret.has_value(); }
};

// A history line that does not parse or breaks the format's rules. what() names the source and the line:
// "history.jsonl:12: cas needs a string \"expect\"".
class HistoryError : public std::runtime_error {
 public:
  HistoryError(const std::string& source, std::size_t line, const std::string& message);
  std::size_t line() const noexcept { return line_; }

 private:
  std::size_t line_;
};

// One JSON object, no trailing newline. Keys and values must be valid UTF-8 (JSON strings); throws
// std::invalid_argument otherwise.
std::string format_operation(const Operation& op);

// Parses one line; throws HistoryError naming `source` and `line_number`.
Operation parse_operation(std::string_view line, const std::string& source, std::size_t line_number);

// Blank lines are skipped; anything else must be a valid operation.
std::vector<Operation> read_history(std::istream& in, const std::string& source = "history");
std::vector<Operation> read_history_file(const std::string& path);

void write_history(std::ostream& out, std::span<const Operation> ops);

// Appends operations to a file, one line per write(2) on an O_APPEND descriptor (mode 0600), so several
// threads or processes can record into one file without interleaving within a line.
class HistoryWriter {
 public:
  explicit HistoryWriter(const std::string& path);
  ~HistoryWriter();
  HistoryWriter(const HistoryWriter&) = delete;
  HistoryWriter& operator=(const HistoryWriter&) = delete;

  // Throws std::system_error if the write fails.
  void write(const Operation& op);

 private:
  int fd_;
  std::string path_;
};

}  // namespace shmraft::checker
