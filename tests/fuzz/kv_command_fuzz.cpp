// libFuzzer target: kv::decode_command (the KV command inside a log entry and a client request).
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/kv_round_trip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  shmraft::fuzz::check_command_round_trip(shmraft::fuzz::input_bytes(data, size));
  return 0;
}
