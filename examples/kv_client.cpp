// A KV client of a running shmraft cluster (shmraft::client).
//
//     shmraft up -c demo &
//     kv_client demo
//
// The client attaches to the cluster's shared-memory segment by name, claims a client slot, finds the
// leader and retries with the same sequence number until the operation is answered (exactly once).
// It writes a key, reads it back, appends, compares-and-sets, deletes, and checks every answer.
// Exit status 0 when every answer was the expected one, 1 otherwise (2 on bad usage).
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "launcher/client/client.h"

namespace client = shmraft::client;

namespace {

// Prints one operation's outcome; false if it is not what the cluster must answer.
bool expect(std::string_view what, const client::Result& result, client::Status status,
            std::string_view value) {
  const bool as_expected = result.status == status && result.value == value;
  std::printf("%-28s %-10s \"%s\" (%u attempt%s)%s\n", std::string(what).c_str(),
              std::string(client::to_string(result.status)).c_str(), result.value.c_str(), result.attempts,
              result.attempts == 1 ? "" : "s", as_expected ? "" : "  <- unexpected");
  return as_expected;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CLUSTER\n", argv[0]);
    return 2;
  }
  try {
    client::Client kv(argv[1]);
    const std::string key = "example-key";
    bool ok = true;
    ok &= expect("put " + key + " hello", kv.put(key, "hello"), client::Status::ok, "");
    ok &= expect("get " + key, kv.get(key), client::Status::ok, "hello");
    ok &= expect("append " + key + " , world", kv.append(key, ", world"), client::Status::ok, "");
    ok &= expect("cas " + key + " stale -> x", kv.cas(key, "stale", "x"), client::Status::cas_failed, "");
    ok &= expect("cas " + key + " -> done", kv.cas(key, "hello, world", "done"), client::Status::ok, "");
    ok &= expect("get " + key, kv.get(key), client::Status::ok, "done");
    ok &= expect("del " + key, kv.del(key), client::Status::ok, "");
    ok &= expect("get " + key + " (absent)", kv.get(key), client::Status::ok, "");
    std::printf(ok ? "every answer was as expected\n" : "UNEXPECTED answers\n");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kv_client: %s\n", e.what());
    return 1;
  }
}
