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

}  // namespace shmraft::raft
