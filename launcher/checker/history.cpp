#include "launcher/checker/history.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <system_error>

namespace shmraft::checker {

namespace {
using nlohmann::json;

constexpr std::string_view kOpNames[] = {"put", "get", "append", "cas", "delete"};

bool writes_value(OpKind k) noexcept {
  return k == OpKind::put || k == OpKind::append || k == OpKind::cas;
}

class LineParser {
 public:
  LineParser(const json& object, const std::string& source, std::size_t line)
      : object_(object), source_(source), line_(line) {}

  [[noreturn]] void fail(const std::string& message) const { throw HistoryError(source_, line_, message); }

  const json* field(const char* name, bool required) const {
    const auto it = object_.find(name);
    if (it == object_.end()) {
      if (required) fail(std::string("missing field \"") + name + "\"");
      return nullptr;
    }
    return &*it;
  }

  uint64_t unsigned_field(const char* name) const {
    const json* v = field(name, true);
    if (!v->is_number_unsigned()) fail(std::string("\"") + name + "\" must be a non-negative integer");
    return v->get<uint64_t>();
  }

  std::string string_field(const char* name, const std::string& why) const {
    const json* v = field(name, true);
    if (!v->is_string()) fail(why + " needs a string \"" + name + "\"");
    return v->get<std::string>();
  }

 private:
  const json& object_;
  const std::string& source_;
  std::size_t line_;
};
}  // namespace

std::string_view to_string(OpKind kind) noexcept {
  return kOpNames[static_cast<std::size_t>(kind)];
}

HistoryError::HistoryError(const std::string& source, std::size_t line, const std::string& message)
    : std::runtime_error(source + ":" + std::to_string(line) + ": " + message), line_(line) {}

std::string format_operation(const Operation& op) {
  // Built as an ordered object so the fields appear in DESIGN.md's order, which eases reading by eye.
  nlohmann::ordered_json j;
  j["client"] = op.client;
  j["op"] = to_string(op.op);
  j["key"] = op.key;
  j["value"] = writes_value(op.op) ? nlohmann::ordered_json(op.value) : nlohmann::ordered_json(nullptr);
  j["expect"] = op.op == OpKind::cas ? nlohmann::ordered_json(op.expect) : nlohmann::ordered_json(nullptr);
  j["output"] = op.known() ? nlohmann::ordered_json(op.output) : nlohmann::ordered_json(nullptr);
  j["call"] = op.call;
  j["return"] = op.known() ? nlohmann::ordered_json(*op.ret) : nlohmann::ordered_json(nullptr);
  try {
    return j.dump();
  } catch (const nlohmann::json::type_error& e) {
    throw std::invalid_argument("history: key or value of a " + std::string(to_string(op.op)) +
                                " by client " + std::to_string(op.client) + " is not valid UTF-8");
  }
}

Operation parse_operation(std::string_view line, const std::string& source, std::size_t line_number) {
  json object;
  try {
    object = json::parse(line);
  } catch (const json::exception& e) {
    throw HistoryError(source, line_number, std::string("not valid JSON (") + e.what() + ")");
  }
  if (!object.is_object()) throw HistoryError(source, line_number, "not a JSON object");
  const LineParser p(object, source, line_number);

  Operation op;
  op.client = p.unsigned_field("client");
  const std::string name = p.string_field("op", "an operation");
  bool found = false;
  for (std::size_t i = 0; i < std::size(kOpNames); ++i) {
    if (name == kOpNames[i]) {
      op.op = static_cast<OpKind>(i);
      found = true;
    }
  }
  if (!found) p.fail("unknown op \"" + name + "\" (expected put, get, append, cas or delete)");
  op.key = p.string_field("key", std::string(to_string(op.op)));
  if (writes_value(op.op)) op.value = p.string_field("value", std::string(to_string(op.op)));
  if (op.op == OpKind::cas) op.expect = p.string_field("expect", "cas");
  op.call = p.unsigned_field("call");

  const json* ret = p.field("return", true);
  if (ret->is_null()) return op;  // unknown outcome: output is meaningless
  if (!ret->is_number_unsigned()) p.fail("\"return\" must be a non-negative integer or null");
  op.ret = ret->get<uint64_t>();
  if (*op.ret < op.call) p.fail("\"return\" is before \"call\"");
  op.output = p.string_field("output", "a completed operation");
  if (op.op == OpKind::cas) {
    if (op.output != "ok" && op.output != "fail")
      p.fail("cas output must be \"ok\" or \"fail\", not \"" + op.output + "\"");
  } else if (op.op != OpKind::get && op.output != "ok") {
    p.fail(std::string(to_string(op.op)) + " output must be \"ok\", not \"" + op.output + "\"");
  }
  return op;
}

std::vector<Operation> read_history(std::istream& in, const std::string& source) {
  std::vector<Operation> ops;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ops.push_back(parse_operation(line, source, number));
  }
  if (in.bad()) throw std::runtime_error(source + ": read error");
  return ops;
}

std::vector<Operation> read_history_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::system_error(errno, std::generic_category(), "cannot open history " + path);
  return read_history(in, path);
}

void write_history(std::ostream& out, std::span<const Operation> ops) {
  for (const Operation& op : ops) out << format_operation(op) << '\n';
}

HistoryWriter::HistoryWriter(const std::string& path)
    : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)), path_(path) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "cannot open history " + path);
}

HistoryWriter::~HistoryWriter() {
  ::close(fd_);
}

void HistoryWriter::write(const Operation& op) {
  std::string line = format_operation(op);
  line.push_back('\n');
  // O_APPEND makes each write land whole at the end; a short write (disk full) is an error, not a retry,
  // because a retry could interleave with another writer's line.
  const ssize_t written = ::write(fd_, line.data(), line.size());
  if (written < 0) throw std::system_error(errno, std::generic_category(), "cannot write history " + path_);
  if (static_cast<std::size_t>(written) != line.size()) {
    throw std::system_error(ENOSPC, std::generic_category(), "short write to history " + path_);
  }
}

}  // namespace shmraft::checker
