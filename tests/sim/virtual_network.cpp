#include "tests/sim/virtual_network.h"

#include <algorithm>
#include <stdexcept>

#include "node/raft/codec.h"

namespace shmraft::sim {

VirtualNetwork::VirtualNetwork(uint32_t nodes, const SimProfile& profile)
    : profile_(profile), stride_(nodes + 1), up_(stride_ * stride_, true) {}

void VirtualNetwork::send(const raft::Message& message, uint64_t now, SimRandom& rng) {
  ++stats_.sent;
  const raft::NodeId from = raft::message_from(message);
  const raft::NodeId to = raft::message_to(message);
  if (from == raft::kNoNode || to == raft::kNoNode || from >= stride_ || to >= stride_) {
    throw std::logic_error("the core sent a message with an invalid address");
  }
  if (!link_up(from, to)) {
    ++stats_.cut;
    return;
  }
  if (!reliable_ && rng.chance(profile_.drop)) {
    ++stats_.dropped;
    return;
  }
  std::vector<std::byte> bytes(raft::encoded_size(message));
  const raft::Encoded encoded = raft::encode(message, bytes);
  if (!encoded || encoded.size != bytes.size()) {
    throw std::logic_error(std::string("encoding a core message failed: ") + raft::to_string(encoded.error));
  }
  enqueue(from, to, bytes, now, rng);
  if (!reliable_ && rng.chance(profile_.duplicate)) {
    ++stats_.duplicated;
    enqueue(from, to, bytes, now, rng);
  }
}

void VirtualNetwork::enqueue(raft::NodeId from, raft::NodeId to, const std::vector<std::byte>& bytes,
                             uint64_t now, SimRandom& rng) {
  uint64_t delay = rng.between(1, profile_.max_delay_steps);
  if (!reliable_ && rng.chance(profile_.long_delay)) {
    delay = rng.between(1, uint64_t{profile_.long_delay_ticks} * profile_.steps_per_tick);
  }
  queue_.push_back(Packet{now + delay, rng.next(), from, to, bytes});
  std::push_heap(queue_.begin(), queue_.end(), Later());
}

void VirtualNetwork::take_due(uint64_t now, std::vector<Packet>& out) {
  while (!queue_.empty() && queue_.front().due_step <= now) {
    std::pop_heap(queue_.begin(), queue_.end(), Later());
    Packet packet = std::move(queue_.back());
    queue_.pop_back();
    // A link cut while the packet was in flight loses it too.
    if (!link_up(packet.from, packet.to)) {
      ++stats_.cut;
      continue;
    }
    ++stats_.delivered;
    out.push_back(std::move(packet));
  }
}

}  // namespace shmraft::sim
