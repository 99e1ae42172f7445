#include "launcher/client/client.h"

#include <chrono>
#include <stdexcept>

namespace shmraft::client {

Client::Client(std::string_view cluster, ClientOptions options)
    : async_(cluster, single(std::move(options))) {}

Result Client::execute(const Request& request) {
  if (!async_.submit(request, 0)) throw std::logic_error("Client::execute: a request is already outstanding");
  Result result;
  bool done = false;
  const AsyncClient::Callback on_done = [&](const Completion& c) {
    result.status = c.status;
    result.value.assign(c.value);
    result.found = c.found;
    result.phases = c.phases;
    result.attempts = c.attempts;
    done = true;
  };
  // The client's own operation timeout ends every request; this loop only waits for it.
  while (!done) async_.wait(on_done, std::chrono::milliseconds(100));
  return result;
}

}  // namespace shmraft::client
