#pragma once
// The synchronous KV client (CLI, tests, chaos): one operation at a time, exactly once per session
// (client id + sequence number), retried at the leader the nodes point to, bounded by
// ClientOptions::operation_timeout, optionally recorded in a JSON-lines history.
//
//     Client c("demo");
//     Result r = c.put("k", "v");          // r.status: ok | cas_failed | unknown | rejected
//     std::string v = c.get("k").value;
#include <string>
#include <string_view>

#include "launcher/client/async_client.h"
#include "launcher/client/client_types.h"

namespace shmraft::client {

struct Result {
  Status status = Status::unknown;
  std::string value;  // get: the value read ("" when the key is absent)
  bool found = true;  // get: false when the key holds no value
  Phases phases;
  uint32_t attempts = 0;

  bool ok() const noexcept { return status == Status::ok; }
};

class Client {
 public:
  // See AsyncClient's constructor; `options.pipeline` is ignored (always 1).
  explicit Client(std::string_view cluster, ClientOptions options = {});

  Result put(std::string_view key, std::string_view value) { return execute({kv::Op::put, key, value, {}}); }
  Result get(std::string_view key) { return execute({kv::Op::get, key, {}, {}}); }
  Result append(std::string_view key, std::string_view value) {
    return execute({kv::Op::append, key, value, {}});
  }
  // Sets `key` to `value` if it holds `expected` (an absent key holds ""); else Status::cas_failed.
  Result cas(std::string_view key, std::string_view expected, std::string_view value) {
    return execute({kv::Op::cas, key, value, expected});
  }
  Result del(std::string_view key) { return execute({kv::Op::del, key, {}, {}}); }

  // Blocks until the request finishes (at most about operation_timeout).
  Result execute(const Request& request);

  AsyncClient& async() noexcept { return async_; }

 private:
  static ClientOptions single(ClientOptions options) {
    options.pipeline = 1;
    return options;
  }

  AsyncClient async_;
};

}  // namespace shmraft::client
