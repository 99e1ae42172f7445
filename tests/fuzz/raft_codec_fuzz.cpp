// libFuzzer target: raft::decode_message, every message kind. The wire format has exactly one encoding
// per message, so a message that decodes must encode back to the input byte for byte.
#include <algorithm>
#include <vector>

#include "node/raft/codec.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace shmraft::raft;
  const std::span<const std::byte> in = shmraft::fuzz::input_bytes(data, size);
  static DecodeScratch scratch;  // reused, as the node reuses its own
  const Decoded<Message> decoded = decode_message(in, scratch);
  const Decoded<MessageKind> kind = peek_kind(in);
  if (!decoded) {
    FUZZ_CHECK(decoded.error != CodecError::kOk && decoded.error != CodecError::kBufferTooSmall);
    return 0;
  }
  FUZZ_CHECK(kind && kind.value == kind_of(decoded.value));
  if (const auto* append = std::get_if<AppendEntries>(&decoded.value)) {
    for (std::size_t i = 0; i < append->entries.size(); ++i)
      FUZZ_CHECK(append->entries[i].index == append->prev_log_index + 1 + i);
  }
  FUZZ_CHECK(encoded_size(decoded.value) == size);
  std::vector<std::byte> out(size);
  const Encoded encoded = encode(decoded.value, out);
  FUZZ_CHECK(encoded && encoded.size == size);
  FUZZ_CHECK(std::equal(out.begin(), out.end(), in.begin()));
  return 0;
}
