// libFuzzer target: kv::StateMachine::restore, the KV snapshot an InstallSnapshot or snap/snapshot
// carries. A snapshot that restores must snapshot again to bytes that restore to the same state.
//
// Input: u8 flags | snapshot bytes. Flags bit 0, seal: the last 4 bytes are first replaced by the CRC32C
// the rest needs, so the fuzzer reaches the parser behind the checksum without having to solve it.
#include <cstring>
#include <vector>

#include "ipc/crc32c.h"
#include "node/kv/state_machine.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace shmraft::kv;
  shmraft::fuzz::FuzzInput input(shmraft::fuzz::input_bytes(data, size));
  const bool seal = (input.integer<uint8_t>() & 1) != 0;
  const std::span<const std::byte> rest = input.take(input.remaining());
  std::vector<std::byte> bytes(rest.begin(), rest.end());
  if (seal && bytes.size() >= 4) {
    const uint32_t crc = shmraft::ipc::crc32c(bytes.data(), bytes.size() - 4);
    std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);  // little-endian, as the snapshot stores it
  }
  StateMachine restored;
  try {
    restored.restore(bytes);
  } catch (const SnapshotError&) {
    return 0;
  }
  const std::vector<std::byte> snapshot = restored.snapshot();
  StateMachine again;
  again.restore(snapshot);  // throws (a crash here) if our own snapshot does not restore
  FUZZ_CHECK(again.snapshot() == snapshot);
  FUZZ_CHECK(again.applied_index() == restored.applied_index());
  FUZZ_CHECK(again.dump() == restored.dump());
  FUZZ_CHECK(again.sessions().size() == restored.sessions().size());
  return 0;
}
