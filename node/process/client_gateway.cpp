#include "node/process/client_gateway.h"

#include <cstring>

namespace shmraft::node {

ClientGateway::ClientGateway(ipc::Segment& segment, uint32_t self)
    : requests_(segment.client_slots()),
      responses_(segment.client_slots()),
      is_dirty_(segment.client_slots()) {
  for (uint32_t slot = 0; slot < segment.client_slots(); ++slot) {
    requests_[slot] = segment.request_consumer(slot, self);
    responses_[slot] = segment.response_producer(self, slot);
  }
  dirty_.reserve(segment.client_slots());
}

bool ClientGateway::has_requests() noexcept {
  for (ipc::RingConsumer& ring : requests_)
    if (ring.has_frames()) return true;
  return false;
}

std::byte* ClientGateway::reserve(uint32_t slot, std::size_t length) {
  ipc::RingProducer& ring = responses_[slot];
  std::byte* out = length <= ring.max_payload() ? ring.try_reserve(static_cast<uint32_t>(length)) : nullptr;
  if (out == nullptr) ++drops_;
  return out;
}

void ClientGateway::commit(uint32_t slot, std::size_t length) {
  responses_[slot].commit(kResponseFrame, static_cast<uint32_t>(length));
  ++replies_;
  if (!is_dirty_[slot]) {
    is_dirty_[slot] = 1;
    dirty_.push_back(slot);
  }
}

bool ClientGateway::reply(uint32_t slot, const ResponseHeader& header, const kv::Result& result) {
  const std::size_t length = sizeof(ResponseHeader) + kv::encoded_size(result);
  if (length > responses_[slot].max_payload()) {
    ResponseHeader refused = header;
    refused.status = ResponseStatus::bad_request;
    return reply(slot, refused, "the result does not fit in a response frame");
  }
  std::byte* out = reserve(slot, length);
  if (out == nullptr) return false;
  write_header(header, out);
  kv::encode_result(result, {out + sizeof(ResponseHeader), length - sizeof(ResponseHeader)});
  commit(slot, length);
  return true;
}

bool ClientGateway::reply(uint32_t slot, const ResponseHeader& header, std::string_view reason) {
  const std::size_t length = sizeof(ResponseHeader) + reason.size();
  std::byte* out = reserve(slot, length);
  if (out == nullptr) return false;
  write_header(header, out);
  if (!reason.empty()) std::memcpy(out + sizeof(ResponseHeader), reason.data(), reason.size());
  commit(slot, length);
  return true;
}

void ClientGateway::flush() {
  for (uint32_t slot : dirty_) {
    responses_[slot].publish();
    is_dirty_[slot] = 0;
  }
  dirty_.clear();
}

uint64_t ClientGateway::bad_frames() const noexcept {
  uint64_t total = malformed_;
  for (const ipc::RingConsumer& ring : requests_) total += ring.bad_frames();
  return total;
}

}  // namespace shmraft::node
