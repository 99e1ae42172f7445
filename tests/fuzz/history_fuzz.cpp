// libFuzzer target: checker::read_history, the JSON-lines history the linearizability checker reads.
// Operations that read must write back (write_history) to lines that read as the same operations.
#include <sstream>
#include <string>

#include "launcher/checker/history.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using shmraft::checker::Operation;

bool same_operation(const Operation& a, const Operation& b) {
  return a.client == b.client && a.op == b.op && a.key == b.key && a.value == b.value &&
         a.expect == b.expect && a.call == b.call && a.ret == b.ret && (!a.known() || a.output == b.output);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace shmraft::checker;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::vector<Operation> ops;
  try {
    ops = read_history(in, "fuzz");
  } catch (const HistoryError&) {
    return 0;
  }
  std::ostringstream written;
  write_history(written, ops);  // throws (a crash here) if a read operation cannot be written
  std::istringstream reread(written.str());
  const std::vector<Operation> again = read_history(reread, "fuzz-rewritten");
  FUZZ_CHECK(again.size() == ops.size());
  for (std::size_t i = 0; i < ops.size(); ++i) FUZZ_CHECK(same_operation(ops[i], again[i]));
  return 0;
}
