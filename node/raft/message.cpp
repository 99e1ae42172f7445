#include "node/raft/message.h"

namespace shmraft::raft {

NodeId message_from(const Message& m) noexcept {
  return std::visit([](const auto& x) { return x.from; }, m);
}
NodeId message_to(const Message& m) noexcept {
  return std::visit([](const auto& x) { return x.to; }, m);
}
Term message_term(const Message& m) noexcept {
  return std::visit([](const auto& x) { return x.term; }, m);
}
bool wakes_receiver(const Message& m) noexcept {
  const auto* answer = std::get_if<HeartbeatResponse>(&m);
  return answer == nullptr || answer->urgent;
}

}  // namespace shmraft::raft
