#include "launcher/client/client_group.h"

#include <algorithm>
#include <stdexcept>

#include "ipc/clock.h"

namespace shmraft::client {

ClientGroup::ClientGroup(std::string_view cluster, uint32_t size, const ClientOptions& options)
    : segment_(std::make_shared<ipc::Segment>(ipc::Segment::attach(cluster))),
      forward_([this](const Completion& done) { (*on_done_)(polling_, done); }) {
  if (size == 0) throw std::invalid_argument("a client group needs at least one client");
  if (size > 1 && options.transport == TransportKind::tcp)
    throw std::invalid_argument("tcp clients cannot share a thread: one thread per tcp client");
  clients_.reserve(size);
  if (size == 1) {
    clients_.push_back(std::make_unique<AsyncClient>(segment_, options, nullptr));
    return;
  }
  bells_.nodes_to_ring.assign(segment_->max_nodes(), 0);
  bells_.unflushed.reserve(size);
  for (uint32_t i = 0; i < size; ++i)
    clients_.push_back(std::make_unique<AsyncClient>(segment_, options, &bells_));
  waiter_ =
      std::make_unique<ipc::Waiter>(segment_->client_doorbell(bells_.reply_slot), options.wait, options.spin);
  seen_leader_term_ = segment_->leader_record().read().term;
  seen_candidate_term_ = segment_->leader_record().read_candidate().term;
}

bool ClientGroup::has_replies() noexcept {
  for (const std::unique_ptr<AsyncClient>& c : clients_)
    if (c->has_replies()) return true;
  return false;
}

bool ClientGroup::leader_changed() const noexcept {
  const ipc::LeaderRecord& record = segment_->leader_record();
  return record.read().term > seen_leader_term_ || record.read_candidate().term > seen_candidate_term_;
}

std::size_t ClientGroup::wait(const Callback& on_done, Clock::duration timeout) {
  on_done_ = &on_done;
  polling_ = 0;
  if (!waiter_) {
    const std::size_t done = clients_.front()->wait(forward_, timeout);
    on_done_ = nullptr;
    return done;
  }
  bells_.flush(*segment_);
  const uint64_t now_ns = ipc::monotonic_ns();
  const Clock::duration to_scan =
      std::chrono::nanoseconds(next_timer_scan_ns_ > now_ns ? next_timer_scan_ns_ - now_ns : 0);
  waiter_->wait_until([&] { return has_replies() || leader_changed(); },
                      Clock::now() + std::min(timeout, to_scan));
  const uint64_t after_ns = ipc::monotonic_ns();
  // Timers and a new leader are looked at per client only when the group's clock or the leader record
  // says so: a client's check is a load, its timers' scan a walk over its outstanding requests.
  const bool leader_moved = leader_changed();
  if (leader_moved) {
    seen_leader_term_ = segment_->leader_record().read().term;
    seen_candidate_term_ = segment_->leader_record().read_candidate().term;
  }
  const bool scan_timers = after_ns >= next_timer_scan_ns_;
  if (scan_timers)
    next_timer_scan_ns_ = after_ns + static_cast<uint64_t>(std::chrono::nanoseconds(kTimerScan).count());
  std::size_t done = 0;
  for (polling_ = 0; polling_ < clients_.size(); ++polling_) {
    AsyncClient& c = *clients_[polling_];
    if (c.has_replies()) done += c.take_replies(forward_);
    if (leader_moved || (scan_timers && c.next_timer_ns() <= after_ns)) done += c.run_due(forward_, after_ns);
  }
  bells_.flush(*segment_);
  on_done_ = nullptr;
  return done;
}

}  // namespace shmraft::client
