// libFuzzer target: the client envelope (node/process/client_wire.h) as the node reads a request frame
// (Node::on_client_request) and the client reads a response frame (AsyncClient::on_response).
// Input: u8 frame type (odd: request, even: response) | frame payload.
#include <cstring>

#include "node/process/client_wire.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/kv_round_trip.h"

namespace {

using namespace shmraft;

// A header that reads must write back to the very bytes it was read from.
template <class Header>
std::optional<Header> read_checked(std::span<const std::byte> payload) {
  const std::optional<Header> header = node::read_header<Header>(payload);
  FUZZ_CHECK(header.has_value() == (payload.size() >= sizeof(Header)));
  if (!header) return header;
  std::byte written[sizeof(Header)];
  node::write_header(*header, written);
  FUZZ_CHECK(std::memcmp(written, payload.data(), sizeof written) == 0);
  return header;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  fuzz::FuzzInput input(fuzz::input_bytes(data, size));
  const bool request = (input.integer<uint8_t>() & 1) != 0;
  const std::span<const std::byte> payload = input.take(input.remaining());
  if (request) {
    if (read_checked<node::RequestHeader>(payload))
      fuzz::check_command_round_trip(payload.subspan(sizeof(node::RequestHeader)));
  } else if (const auto header = read_checked<node::ResponseHeader>(payload)) {
    if (header->status == node::ResponseStatus::ok)
      fuzz::check_result_round_trip(payload.subspan(sizeof(node::ResponseHeader)));
  }
  return 0;
}
