#include "launcher/client/async_client.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <stdexcept>

#include "ipc/clock.h"
#include "launcher/checker/history.h"
#include "node/kv/result.h"

namespace shmraft::client {
namespace {

// Request ids: the attempt's serial number above, the pending entry's index below.
constexpr int kIndexBits = 16;
constexpr uint32_t kMaxPipeline = 1024;

using ipc::monotonic_ns;

uint64_t to_ns(std::chrono::milliseconds ms) {
  return static_cast<uint64_t>(ms.count()) * 1'000'000u;
}

uint64_t random_client_id(std::mt19937_64& rng) {
  uint64_t id = 0;
  while (id == kv::kNoSession) id = rng();
  return id;
}

checker::OpKind history_kind(kv::Op op) {
  switch (op) {
    case kv::Op::put:
      return checker::OpKind::put;
    case kv::Op::get:
      return checker::OpKind::get;
    case kv::Op::append:
      return checker::OpKind::append;
    case kv::Op::cas:
      return checker::OpKind::cas;
    case kv::Op::del:
      return checker::OpKind::del;
  }
  return checker::OpKind::get;
}

const ClientOptions& checked(const ClientOptions& options) {
  if (options.pipeline < 1 || options.pipeline > kMaxPipeline)
    throw std::invalid_argument("client pipeline " + std::to_string(options.pipeline) + " is not in 1.." +
                                std::to_string(kMaxPipeline));
  if (options.attempt_timeout.count() <= 0 || options.operation_timeout.count() <= 0)
    throw std::invalid_argument("client timeouts must be positive");
  if (options.client_id && *options.client_id == kv::kNoSession)
    throw std::invalid_argument("client id 0 means 'no session'; pick a non-zero id");
  if (options.history != nullptr && !options.session)
    throw std::invalid_argument(
        "a client that records a history needs a session: without one a retried write may apply twice, "
        "which the checker would report as a violation");
  return options;
}

// Bad options are refused before the cluster is looked for.
std::shared_ptr<ipc::Segment> attach_checked(std::string_view cluster, const ClientOptions& options) {
  checked(options);
  return std::make_shared<ipc::Segment>(ipc::Segment::attach(cluster));
}

// Gives the slot back when the channel cannot be opened (the constructor's body never runs then).
std::unique_ptr<ClientChannel> open_channel(const ClientOptions& options, ipc::Segment& segment,
                                            const ipc::ClientSlotClaim& claim, SharedBells* shared) {
  try {
    return ClientChannel::open(options.transport, segment, claim.slot, options.wait, options.spin, shared);
  } catch (...) {
    segment.release_client_slot(claim.slot);
    throw;
  }
}

}  // namespace

std::string_view to_string(Status status) noexcept {
  switch (status) {
    case Status::ok:
      return "ok";
    case Status::cas_failed:
      return "cas_failed";
    case Status::unknown:
      return "unknown";
    case Status::rejected:
      return "rejected";
  }
  return "?";
}

AsyncClient::AsyncClient(std::string_view cluster, const ClientOptions& options)
    : AsyncClient(attach_checked(cluster, options), options, nullptr) {}

AsyncClient::AsyncClient(std::shared_ptr<ipc::Segment> segment, const ClientOptions& options,
                         SharedBells* shared)
    : options_(checked(options)),
      segment_(std::move(segment)),
      claim_(segment_->claim_client_slot()),
      channel_(open_channel(options, *segment_, claim_, shared)),
      rng_(std::random_device{}() ^ (uint64_t{claim_.generation} << 32) ^ monotonic_ns()),
      pending_(options.pipeline) {
  client_id_ = options_.session ? options_.client_id.value_or(random_client_id(rng_)) : kv::kNoSession;
  round_robin_ = static_cast<uint32_t>(rng_() % segment_->node_count());
  follow_leader_record(monotonic_ns());  // start at the announced leader rather than a guess
  follow_candidate(monotonic_ns());
}

AsyncClient::~AsyncClient() {
  flush();
  channel_.reset();
  segment_->release_client_slot(claim_.slot);
}

std::size_t AsyncClient::max_request_bytes() const noexcept {
  return max_request_bytes_for(channel_->max_payload());
}

std::size_t AsyncClient::max_append_bound() const noexcept {
  return node::max_value_in_reply(channel_->max_payload());
}

std::size_t AsyncClient::max_request_bytes_for(std::size_t frame_payload) noexcept {
  // The reply must carry a get's value back through a ring of the same size, behind a larger header.
  constexpr std::size_t kCommandOverhead = 32;  // op byte and varint lengths, generously
  const std::size_t header = std::max(sizeof(node::RequestHeader), sizeof(node::ResponseHeader));
  return frame_payload > header + kCommandOverhead ? frame_payload - header - kCommandOverhead : 0;
}

bool AsyncClient::submit(const Request& request, uint64_t tag) {
  if (outstanding_ == pending_.size()) return false;
  // Reads are never logged, so they take no place in the session's sequence: a sequence number the
  // cluster never saw would make the next write look like one of an expired session.
  const bool in_session = options_.session && request.op != kv::Op::get;
  const kv::Command command{in_session ? client_id_ : kv::kNoSession,
                            in_session ? next_sequence_ : 0,
                            request.op,
                            request.key,
                            request.value,
                            request.expected,
                            request.op == kv::Op::append ? max_append_bound() : 0};
  const std::size_t size = kv::encoded_size(command);
  const std::size_t data = request.key.size() + request.value.size() + request.expected.size();
  if (data > max_request_bytes())
    throw std::invalid_argument("key and values of " + std::to_string(data) + " bytes exceed the " +
                                std::to_string(max_request_bytes()) + " bytes a client request carries");
  uint32_t index = 0;
  while (pending_[index].state != State::free) ++index;
  Pending& p = pending_[index];
  p.command.resize(size);
  kv::encode_command(command, p.command);  // throws for an oversized key or value: nothing changed yet
  if (in_session) ++next_sequence_;
  const uint64_t now_ns = monotonic_ns();
  p.tag = tag;
  p.sequence = command.sequence;
  p.op = request.op;
  p.attempts = 0;
  p.call_ns = now_ns;
  p.give_up_ns = now_ns + to_ns(options_.operation_timeout);
  p.first_serial = next_serial_;
  p.node = pick_node();
  if (options_.history != nullptr) {
    p.key.assign(request.key);
    p.value.assign(request.value);
    p.expected.assign(request.expected);
  }
  ++outstanding_;
  send_attempt(index, now_ns);
  return true;
}

uint32_t AsyncClient::pick_node() {
  if (leader_ != 0) return leader_;
  round_robin_ = next_node(round_robin_);
  return round_robin_;
}

uint32_t AsyncClient::next_node(uint32_t node) const noexcept {
  const uint32_t slots = segment_->max_nodes();
  for (uint32_t step = 1; step <= slots; ++step) {
    const uint32_t candidate = (node + step - 1) % slots + 1;
    if (segment_->peer_alive(candidate).alive) return candidate;
  }
  return node % segment_->node_count() + 1;
}

void AsyncClient::note_written(Pending& p, uint32_t node) noexcept {
  const uint32_t bit = 1u << ipc::slot_of(node);
  if ((p.written_nodes & bit) != 0) return;
  p.written_nodes |= bit;
  if (owing_[ipc::slot_of(node)]++ == 0) owing_nodes_ |= bit;
}

void AsyncClient::forget_written(Pending& p) noexcept {
  for (uint32_t nodes = p.written_nodes; nodes != 0; nodes &= nodes - 1) {
    const auto at = static_cast<uint32_t>(std::countr_zero(nodes));
    if (--owing_[at] == 0) owing_nodes_ &= ~(1u << at);
  }
  p.written_nodes = 0;
}

void AsyncClient::arm(Pending& p, uint64_t deadline_ns) noexcept {
  p.attempt_deadline_ns = deadline_ns;
  next_timer_ns_ = std::min(next_timer_ns_, deadline_ns);
}

void AsyncClient::send_attempt(uint32_t index, uint64_t now_ns) {
  Pending& p = pending_[index];
  p.current_serial = next_serial_++;
  p.state = State::in_flight;
  ++p.attempts;
  p.written_in_term = 0;
  const node::RequestHeader header{(p.current_serial << kIndexBits) | index, now_ns, claim_.generation, 0};
  const std::size_t size = sizeof header + p.command.size();
  std::byte* out = channel_->reserve(p.node, static_cast<uint32_t>(size));
  if (out == nullptr) {
    // A full or unreachable channel (a node that stopped draining, or is down, or too many requests in
    // flight): give up on this attempt soon and go through the timeout path, which moves on.
    arm(p, std::min(now_ns + to_ns(options_.no_leader_backoff), p.give_up_ns));
    return;
  }
  arm(p, std::min(now_ns + to_ns(options_.attempt_timeout), p.give_up_ns));
  node::write_header(header, out);
  std::copy(p.command.begin(), p.command.end(), out + sizeof header);
  channel_->commit(p.node, static_cast<uint32_t>(size));
  p.written_in_term = followed_leader_term_;
  note_written(p, p.node);
}

void AsyncClient::flush() {
  channel_->flush();
}

std::size_t AsyncClient::poll(const Callback& on_done) {
  return receive(on_done, Clock::now());
}

std::size_t AsyncClient::wait(const Callback& on_done, Clock::duration timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  const uint64_t timer_ns = next_timer_ns_;
  if (timer_ns != std::numeric_limits<uint64_t>::max()) {
    const uint64_t now_ns = monotonic_ns();
    deadline = std::min(deadline,
                        Clock::now() + std::chrono::nanoseconds(timer_ns > now_ns ? timer_ns - now_ns : 0));
  }
  return receive(on_done, deadline);
}

std::size_t AsyncClient::receive(const Callback& on_done, Clock::time_point deadline) {
  channel_->flush();
  const uint64_t finished_before = finished_;
  on_done_ = &on_done;
  batch_receive_ns_ = 0;
  channel_->receive(*this, deadline);  // replies are handled as they are read (on_response)
  const uint64_t now_ns = monotonic_ns();
  follow_leader_record(now_ns);
  follow_candidate(now_ns);
  run_timers(now_ns);
  on_done_ = nullptr;
  channel_->flush();
  return static_cast<std::size_t>(finished_ - finished_before);
}

bool AsyncClient::has_replies() noexcept {
  for (uint32_t nodes = owing_nodes_; nodes != 0; nodes &= nodes - 1)
    if (channel_->has_responses_from(static_cast<uint32_t>(std::countr_zero(nodes)) + 1)) return true;
  return false;
}

std::size_t AsyncClient::take_replies(const Callback& on_done) {
  const uint64_t finished_before = finished_;
  on_done_ = &on_done;
  batch_receive_ns_ = 0;
  channel_->take(*this);
  on_done_ = nullptr;
  return static_cast<std::size_t>(finished_ - finished_before);
}

std::size_t AsyncClient::run_due(const Callback& on_done, uint64_t now_ns) {
  const uint64_t finished_before = finished_;
  on_done_ = &on_done;
  follow_leader_record(now_ns);
  follow_candidate(now_ns);
  run_timers(now_ns);
  on_done_ = nullptr;
  return static_cast<std::size_t>(finished_ - finished_before);
}

void AsyncClient::on_response(uint32_t node, std::span<const std::byte> payload) {
  const auto header = node::read_header<node::ResponseHeader>(payload);
  if (!header) return;
  // One clock read per batch of replies, shared by every reply produced before it (one produced after
  // it came in later in the same drain: read again).
  if (batch_receive_ns_ == 0 || batch_receive_ns_ < header->apply_ns) batch_receive_ns_ = monotonic_ns();
  handle_response(node, *header, payload.subspan(sizeof(node::ResponseHeader)), batch_receive_ns_);
}

void AsyncClient::handle_response(uint32_t node, const node::ResponseHeader& header,
                                  std::span<const std::byte> payload, uint64_t now_ns) {
  if (header.generation != claim_.generation) return;  // meant for an earlier owner of this slot
  const uint64_t index = header.request_id & ((uint64_t{1} << kIndexBits) - 1);
  const uint64_t serial = header.request_id >> kIndexBits;
  if (index >= pending_.size()) return;
  Pending& p = pending_[index];
  if (p.state == State::free || serial < p.first_serial) return;  // an operation that already finished
  const bool current = serial == p.current_serial;
  const auto at = static_cast<uint32_t>(index);

  switch (header.status) {
    case node::ResponseStatus::ok: {
      kv::Result result;
      if (!kv::decode_result(payload, result)) return;  // garbled answer: let the attempt time out
      const Phases phases{header.client_send_ns, header.leader_receive_ns, header.leader_persist_ns,
                          header.commit_ns,      header.apply_ns,          now_ns};
      // Not from a late ok to an earlier attempt (read from a dead leader's socket or ring after the
      // client followed its successor): the next request would go to the dead node and wait out an
      // attempt timeout (a 255 ms window in `bench --transport tcp --failover`).
      if (current) leader_ = node;
      switch (result.code) {
        case kv::ResultCode::ok:
        case kv::ResultCode::value:
          finish(at, Status::ok, result.value, phases);
          return;
        case kv::ResultCode::absent:  // reads as "" in the history: an absent key holds ""
          finish(at, Status::ok, {}, phases, /*found=*/false);
          return;
        case kv::ResultCode::cas_failed:
          finish(at, Status::cas_failed, {}, phases);
          return;
        case kv::ResultCode::malformed:
        case kv::ResultCode::too_large:  // an append past its bound: nothing changed
          finish(at, Status::rejected, {}, phases);
          return;
        case kv::ResultCode::session_expired:
          // The cluster forgot this session, so a retry could apply twice: continue under a new id.
          client_id_ = random_client_id(rng_);
          next_sequence_ = 1;
          finish(at, Status::unknown, {}, phases);
          return;
        case kv::ResultCode::stale_sequence:
          finish(at, Status::unknown, {}, phases);
          return;
      }
      return;
    }
    case node::ResponseStatus::bad_request:
    case node::ResponseStatus::refused:  // an admin request's answer: a KV request never gets it
      finish(at, Status::rejected, {}, Phases{.client_receive_ns = now_ns});
      return;
    case node::ResponseStatus::in_doubt:
      if (!current) return;
      // That leader logged the write, then lost leadership: the next one may still commit it. Within a
      // session a resend is applied at most once and tells the outcome; without one it is unknown.
      if (!options_.session) {
        finish(at, Status::unknown, {}, Phases{.client_receive_ns = now_ns});
        return;
      }
      [[fallthrough]];
    case node::ResponseStatus::not_leader: {
      if (!current) return;
      const uint32_t hint = header.leader_hint;  // a node id, 0 = none known
      if (hint != 0 && hint != node && hint <= segment_->max_nodes()) {
        leader_ = hint;
        p.node = hint;
        send_attempt(at, now_ns);
      } else {
        // Nobody known to lead (an election is running): ask the next node a little later.
        if (leader_ == node) leader_ = 0;
        p.node = next_node(node);
        p.state = State::waiting_retry;
        arm(p, std::min(now_ns + to_ns(options_.no_leader_backoff), p.give_up_ns));
      }
      return;
    }
    case node::ResponseStatus::busy:
      if (!current) return;
      p.state = State::waiting_retry;
      arm(p, std::min(now_ns + to_ns(options_.no_leader_backoff), p.give_up_ns));
      return;
  }
}

void AsyncClient::follow_leader_record(uint64_t now_ns) {
  const ipc::LeaderView view = segment_->leader_record().read();
  if (view.term <= followed_leader_term_ || !view.leader) return;  // nothing newer, or none named yet
  followed_leader_term_ = view.term;
  // A leader killed without a successor yet is still named: only a live one is worth a redirect.
  if (*view.leader > segment_->max_nodes() || !segment_->peer_alive(*view.leader).alive) return;
  leader_ = *view.leader;
  for (uint32_t index = 0; index < pending_.size(); ++index) {
    Pending& p = pending_[index];
    // A session-less write at a live node waits for its answer (it may be in doubt, which a resend
    // would turn into a double apply). Everything else goes to the new leader now: a write in a session
    // is applied once whichever node logs it (its sequence number), a read is never logged, and a
    // stopped or starved old leader would otherwise hold them for a whole attempt timeout.
    if (p.state == State::free || p.node == *view.leader) continue;
    const bool may_double_apply = p.op != kv::Op::get && p.sequence == 0;
    if (p.state == State::in_flight && may_double_apply && segment_->peer_alive(p.node).alive) continue;
    p.node = *view.leader;
    send_attempt(index, now_ns);
  }
}

void AsyncClient::follow_candidate(uint64_t now_ns) {
  const ipc::LeaderView view = segment_->leader_record().read_candidate();
  if (view.term <= followed_candidate_term_ || !view.leader) return;
  followed_candidate_term_ = view.term;
  if (view.term <= followed_leader_term_) return;  // its election is decided: the leader was followed
  const uint32_t candidate = *view.leader;
  if (candidate > segment_->max_nodes() || !segment_->peer_alive(candidate).alive) return;
  if (leader_ == 0 || !segment_->peer_alive(leader_).alive) leader_ = candidate;  // new requests too
  for (uint32_t index = 0; index < pending_.size(); ++index) {
    Pending& p = pending_[index];
    // Only what waits at a dead node: a live one answers, or redirects, what it read.
    if (p.state == State::free || p.node == candidate || segment_->peer_alive(p.node).alive) continue;
    p.node = candidate;
    send_attempt(index, now_ns);
  }
}

void AsyncClient::run_timers(uint64_t now_ns) {
  if (now_ns < next_timer_ns_) return;
  next_timer_ns_ = std::numeric_limits<uint64_t>::max();  // lowered again below by every deadline
  std::optional<LiveLeader> live_leader;                  // read once, when an attempt is due
  bool leader_read = false;
  for (uint32_t index = 0; index < pending_.size(); ++index) {
    Pending& p = pending_[index];
    if (p.state == State::free) continue;
    if (now_ns < p.attempt_deadline_ns) {
      next_timer_ns_ = std::min(next_timer_ns_, p.attempt_deadline_ns);
      continue;
    }
    if (now_ns >= p.give_up_ns) {
      finish(index, Status::unknown, {}, Phases{.client_receive_ns = now_ns});
      continue;
    }
    if (!leader_read) {
      live_leader = announced_live_leader();
      leader_read = true;
    }
    if (p.state == State::in_flight && live_leader && live_leader->node == p.node &&
        live_leader->term == p.written_in_term) {
      // Written to the leader the segment names, alive and in the same term: it answers what it read
      // (a result, "not leader" or "in doubt") or steps down and withdraws its name, so it is only
      // slow — its queue is deep (65 536 requests in flight wait seconds on this host). A resend
      // elsewhere would come back to it as a duplicate, and every duplicate slows it further. Keep
      // waiting, up to the give-up. Not so for an attempt never written (a full channel) or written in
      // an earlier term (that process may have died and a restarted one been elected since).
      arm(p, std::min(now_ns + to_ns(options_.attempt_timeout), p.give_up_ns));
      continue;
    }
    if (p.state == State::in_flight) {
      // No answer in time: that node is dead, cut off or not the leader any more. Try another.
      if (leader_ == p.node) leader_ = 0;
      p.node = leader_ != 0 ? leader_ : next_node(p.node);
    }
    send_attempt(index, now_ns);
  }
}

std::optional<AsyncClient::LiveLeader> AsyncClient::announced_live_leader() const {
  const ipc::LeaderView view = segment_->leader_record().read();
  if (!view.leader || *view.leader > segment_->max_nodes() || !segment_->peer_alive(*view.leader).alive)
    return std::nullopt;
  return LiveLeader{*view.leader, view.term};
}

void AsyncClient::finish(uint32_t index, Status status, std::string_view value, const Phases& phases,
                         bool found) {
  Pending& p = pending_[index];
  if (options_.history != nullptr) record_history(p, status, value, phases.client_receive_ns);
  p.state = State::free;
  forget_written(p);
  --outstanding_;
  ++finished_;
  (*on_done_)(Completion{p.tag, status, value, found, phases, p.attempts});
}

void AsyncClient::record_history(const Pending& p, Status status, std::string_view value,
                                 uint64_t return_ns) {
  if (status == Status::rejected) return;  // known never to have taken effect: left out (DESIGN §6)
  checker::Operation op;
  op.client = options_.history_client.value_or(claim_.slot);
  op.op = history_kind(p.op);
  op.key = p.key;
  op.value = p.value;
  op.expect = p.expected;
  op.call = p.call_ns;
  if (status != Status::unknown) {
    op.ret = return_ns;
    if (p.op == kv::Op::get)
      op.output.assign(value);
    else
      op.output = status == Status::cas_failed ? "fail" : "ok";
  }
  options_.history->write(op);
}

}  // namespace shmraft::client
