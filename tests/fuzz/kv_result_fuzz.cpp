// libFuzzer target: kv::decode_result (the KV result inside a response frame).
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/kv_round_trip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  shmraft::fuzz::check_result_round_trip(shmraft::fuzz::input_bytes(data, size));
  return 0;
}
