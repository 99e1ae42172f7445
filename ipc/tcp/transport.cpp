#include "ipc/tcp/transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "ipc/clock.h"

namespace shmraft::ipc::tcp {

namespace {

constexpr uint32_t kHelloMagic = 0x43545253;  // "SRTC" little-endian
constexpr uint16_t kHelloVersion = 1;
constexpr std::size_t kHelloSize = 16;
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr int kMaxEvents = 64;
constexpr int kReadsPerEvent = 16;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), "tcp transport: " + what);
}

int new_socket() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("socket");
  return fd;
}

// Small frames must leave at once, as they do from a ring: no Nagle delay.
void set_nodelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

void put_u32(std::byte* p, uint32_t v) {
  std::memcpy(p, &v, 4);
}
uint32_t get_u32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

Transport::Transport(const Options& options) : options_(options) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw_errno("epoll_create1");
  if (!options_.listen) return;
  listen_fd_ = new_socket();
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = loopback(options_.listen_port);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int error = errno;
    ::close(listen_fd_);
    ::close(epoll_fd_);
    errno = error;
    throw_errno("bind 127.0.0.1:" + std::to_string(options_.listen_port));
  }
  socklen_t length = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length);
  port_ = ntohs(addr.sin_port);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = nullptr;  // the listener
  if (::listen(listen_fd_, 128) != 0 || ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &event) != 0) {
    const int error = errno;
    ::close(listen_fd_);
    ::close(epoll_fd_);
    errno = error;
    throw_errno("listen on 127.0.0.1:" + std::to_string(port_));
  }
}

Transport::~Transport() {
  for (auto& c : connections_) {
    if (c->fd >= 0) ::close(c->fd);
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  ::close(epoll_fd_);
}

Transport::Peer& Transport::peer(EndpointId id) {
  auto [it, added] = peers_.try_emplace(id);
  if (added) it->second.id = id;
  return it->second;
}

Transport::Connection* Transport::send_connection(const Peer& p) const noexcept {
  // Our own connection when we have one to make; otherwise the reply path the peer opened (a client).
  return p.port != 0 ? p.outbound : p.inbound;
}

bool Transport::connected(EndpointId id) const noexcept {
  const auto it = peers_.find(id);
  if (it == peers_.end()) return false;
  const Connection* c = send_connection(it->second);
  return c && c->state == Connection::State::open;
}

void Transport::connect(EndpointId id, uint16_t port) {
  Peer& p = peer(id);
  if (p.outbound) close_connection(*p.outbound, false);
  p.port = port;
  start_connect(p);
}

void Transport::start_connect(Peer& p) {
  auto owned = std::make_unique<Connection>();
  Connection& c = *owned;
  c.fd = new_socket();
  c.outbound = true;
  c.peer = p.id;
  set_nodelay(c.fd);
  connections_.push_back(std::move(owned));
  p.outbound = &c;
  p.retry_at_ns = 0;
  sockaddr_in addr = loopback(p.port);
  const int rc = ::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT;  // EPOLLOUT reports the end of the connection attempt
  event.data.ptr = &c;
  c.want_write = true;
  if ((rc != 0 && errno != EINPROGRESS) || ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &event) != 0) {
    close_connection(c, false);
    return;
  }
  if (rc == 0) on_connected(c);
}

void Transport::on_connected(Connection& c) {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
    close_connection(c, false);  // typically ECONNREFUSED: the peer does not listen yet
    return;
  }
  // The hello is the first thing on a fresh socket, whose send buffer is empty: it goes in one call.
  std::byte hello[kHelloSize]{};
  put_u32(hello, kHelloMagic);
  std::memcpy(hello + 4, &kHelloVersion, 2);
  put_u32(hello + 8, options_.self);
  if (::send(c.fd, hello, sizeof hello, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof hello)) {
    close_connection(c, false);
    return;
  }
  c.state = Connection::State::open;
  ++counters_.connects;
  Peer& p = peer(c.peer);
  update_interest(c, p.out.size() > p.out_sent);
  if (p.out.size() > p.out_sent) write_out(p);
}

void Transport::accept_all() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or an aborted connection: nothing more to take now
    set_nodelay(fd);
    auto owned = std::make_unique<Connection>();
    owned->fd = fd;
    owned->state = Connection::State::awaiting_hello;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = owned.get();
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      ::close(fd);
      continue;
    }
    connections_.push_back(std::move(owned));
  }
}

bool Transport::parse_hello(Connection& c) {
  if (c.in_end - c.in_begin < kHelloSize) return false;
  const std::byte* h = c.in.data() + c.in_begin;
  uint16_t version;
  std::memcpy(&version, h + 4, 2);
  if (get_u32(h) != kHelloMagic || version != kHelloVersion) {
    close_connection(c, true);
    return false;
  }
  c.peer = get_u32(h + 8);
  c.in_begin += kHelloSize;
  c.state = Connection::State::open;
  ++counters_.accepts;
  Peer& p = peer(c.peer);
  // A peer that reconnects (it restarted) replaces its previous connection.
  if (p.inbound && p.inbound != &c) close_connection(*p.inbound, false);
  p.inbound = &c;
  return true;
}

void Transport::on_readable(Connection& c, Handler handler, std::size_t& delivered) {
  // A bounded number of reads per event, so one busy sender cannot starve the other connections;
  // level-triggered epoll reports the rest on the next poll.
  for (int reads = 0; reads < kReadsPerEvent; ++reads) {
    // Make room: move the unparsed tail to the front, and grow for a frame bigger than the buffer.
    if (c.in_begin > 0 && (c.in_begin == c.in_end || c.in.size() - c.in_end < kReadChunk)) {
      std::memmove(c.in.data(), c.in.data() + c.in_begin, c.in_end - c.in_begin);
      c.in_end -= c.in_begin;
      c.in_begin = 0;
    }
    std::size_t wanted = c.in_end + kReadChunk;
    if (c.state == Connection::State::open && c.in_end - c.in_begin >= sizeof(FrameHeader)) {
      const uint32_t length = get_u32(c.in.data() + c.in_begin);
      if (length > options_.max_payload) {
        close_connection(c, true);  // cannot find the next frame boundary
        return;
      }
      wanted = std::max(wanted, c.in_begin + sizeof(FrameHeader) + length);
    }
    if (c.in.size() < wanted) c.in.resize(wanted);

    const ssize_t n = ::recv(c.fd, c.in.data() + c.in_end, c.in.size() - c.in_end, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      close_connection(c, false);  // orderly close or reset: the peer is gone
      return;
    }
    if (n < 0) return;  // drained (or interrupted: level-triggered epoll brings us back)
    c.in_end += static_cast<std::size_t>(n);
    counters_.bytes_received += static_cast<uint64_t>(n);

    if (c.state == Connection::State::awaiting_hello && !parse_hello(c)) {
      if (c.state == Connection::State::closed) return;
      continue;
    }
    while (c.in_end - c.in_begin >= sizeof(FrameHeader)) {
      FrameHeader header;
      std::memcpy(&header, c.in.data() + c.in_begin, sizeof header);
      if (header.length > options_.max_payload) {
        close_connection(c, true);  // cannot find the next frame boundary
        return;
      }
      if (c.in_end - c.in_begin < sizeof header + header.length) break;
      const std::byte* payload = c.in.data() + c.in_begin + sizeof header;
      c.in_begin += sizeof header + header.length;
      if (frame_crc(header.length, header.type, header.flags, payload) != header.crc) {
        ++counters_.bad_crc;
        continue;
      }
      ++counters_.frames_received;
      ++delivered;
      handler.call(handler.context, c.peer, Frame{header.type, header.flags, {payload, header.length}});
      if (c.state == Connection::State::closed) return;
    }
  }
}

bool Transport::send(EndpointId to, uint16_t type, uint16_t flags, std::span<const std::byte> payload) {
  const auto it = peers_.find(to);
  if (it == peers_.end() || (it->second.port == 0 && !it->second.inbound)) {
    ++counters_.dropped_no_route;
    return false;
  }
  if (payload.size() > options_.max_payload) {
    ++counters_.dropped_too_large;
    return false;
  }
  Peer& p = it->second;
  const std::size_t pending = p.out.size() - p.out_sent;
  if (pending + sizeof(FrameHeader) + payload.size() > options_.max_pending_bytes) {
    ++counters_.dropped_buffer_full;
    return false;
  }
  const auto length = static_cast<uint32_t>(payload.size());
  const FrameHeader header{length, type, flags, frame_crc(length, type, flags, payload.data())};
  const std::size_t at = p.out.size();
  p.out.resize(at + sizeof header + payload.size());
  std::memcpy(p.out.data() + at, &header, sizeof header);
  if (!payload.empty()) std::memcpy(p.out.data() + at + sizeof header, payload.data(), payload.size());
  ++counters_.frames_queued;
  if (!p.dirty) {
    p.dirty = true;
    dirty_.push_back(&p);
  }
  return true;
}

std::size_t Transport::send_to_callers(uint16_t type, uint16_t flags, std::span<const std::byte> payload) {
  std::size_t sent = 0;
  for (auto& [id, p] : peers_) {
    if (p.port == 0 && p.inbound != nullptr && p.inbound->state == Connection::State::open &&
        send(id, type, flags, payload))
      ++sent;
  }
  return sent;
}

void Transport::write_out(Peer& p) {
  Connection* c = send_connection(p);
  if (!c || c->state != Connection::State::open) return;  // queued until the connection is up
  while (p.out_sent < p.out.size()) {
    const ssize_t n = ::send(c->fd, p.out.data() + p.out_sent, p.out.size() - p.out_sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      update_interest(*c, true);  // the socket buffer is full: continue when it drains
      return;
    }
    if (n < 0) {
      close_connection(*c, false);
      return;
    }
    p.out_sent += static_cast<std::size_t>(n);
    counters_.bytes_sent += static_cast<uint64_t>(n);
  }
  p.out.clear();  // keeps its capacity: steady state allocates nothing
  p.out_sent = 0;
  update_interest(*c, false);
}

void Transport::flush() {
  const uint64_t now = monotonic_ns();
  if (now >= next_retry_ns_) retry_connects(now);
  // write_out may leave a peer with output (socket full, not connected): it stays listed.
  std::size_t kept = 0;
  for (Peer* p : dirty_) {
    write_out(*p);
    if (p->out.size() > p->out_sent) {
      dirty_[kept++] = p;
    } else {
      p->dirty = false;
    }
  }
  dirty_.resize(kept);
  sweep_closed();
}

void Transport::update_interest(Connection& c, bool want_write) {
  if (c.want_write == want_write || c.state == Connection::State::closed) return;
  epoll_event event{};
  event.events = EPOLLIN | (want_write ? EPOLLOUT : 0u);
  event.data.ptr = &c;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &event) == 0) c.want_write = want_write;
}

void Transport::close_connection(Connection& c, bool protocol_error) {
  if (c.state == Connection::State::closed) return;
  if (protocol_error) ++counters_.protocol_errors;
  const bool established = c.state == Connection::State::open;
  // Out of the epoll set first: close() removes it only with the last descriptor of its open file, and
  // a process spawned or forked meanwhile (a node restarted by the benchmark's supervisor before its
  // exec, a node's snapshot child) holds a copy; epoll would then go on reporting the socket with a
  // pointer to the Connection swept below (heap corruption in `bench --transport tcp --failover`).
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  ::close(c.fd);
  c.fd = -1;
  c.state = Connection::State::closed;
  const auto it = established || c.outbound ? peers_.find(c.peer) : peers_.end();
  if (established) {
    ++counters_.disconnects;
    disconnected_.push_back(c.peer);
  }
  if (it == peers_.end()) return;
  Peer& p = it->second;
  if (p.inbound == &c) p.inbound = nullptr;
  if (p.outbound == &c) {
    p.outbound = nullptr;
    p.retry_at_ns =
        monotonic_ns() + static_cast<uint64_t>(std::chrono::nanoseconds(options_.reconnect_interval).count());
    next_retry_ns_ = std::min(next_retry_ns_, p.retry_at_ns);
  }
  // Output that went partly to the old connection cannot continue on a new one mid-frame.
  if (established && send_connection(p) == nullptr && p.out.size() > p.out_sent) {
    counters_.bytes_discarded += p.out.size() - p.out_sent;
    p.out.clear();
    p.out_sent = 0;
  }
}

void Transport::retry_connects(uint64_t now) {
  next_retry_ns_ = UINT64_MAX;
  for (auto& [id, p] : peers_) {
    if (p.retry_at_ns == 0) continue;
    if (p.retry_at_ns <= now) {
      start_connect(p);
    } else {
      next_retry_ns_ = std::min(next_retry_ns_, p.retry_at_ns);
    }
  }
}

void Transport::sweep_closed() {
  std::erase_if(connections_, [](const auto& c) { return c->state == Connection::State::closed; });
}

std::size_t Transport::poll_events(std::chrono::nanoseconds timeout, Handler handler) {
  uint64_t now = monotonic_ns();
  if (now >= next_retry_ns_) retry_connects(now);
  // Wake for the next connection retry even when the caller waits longer.
  if (next_retry_ns_ != UINT64_MAX) {
    timeout = std::min<std::chrono::nanoseconds>(timeout, std::chrono::nanoseconds(next_retry_ns_ - now));
  }
  timeout = std::max(timeout, std::chrono::nanoseconds(0));
  const timespec wait{static_cast<time_t>(timeout.count() / 1'000'000'000),
                      static_cast<long>(timeout.count() % 1'000'000'000)};
  epoll_event events[kMaxEvents];
  int n = ::epoll_pwait2(epoll_fd_, events, kMaxEvents, &wait, nullptr);
  if (n < 0 && errno == ENOSYS) {  // kernels before 5.11: millisecond timeouts, rounded up
    n = ::epoll_wait(epoll_fd_, events, kMaxEvents,
                     static_cast<int>((timeout.count() + 999'999) / 1'000'000));
  }
  std::size_t delivered = 0;
  for (int i = 0; i < n; ++i) {
    auto* c = static_cast<Connection*>(events[i].data.ptr);
    if (c == nullptr) {
      accept_all();
      continue;
    }
    if (c->state == Connection::State::closed) continue;  // closed earlier in this batch
    if (c->state == Connection::State::connecting) {
      if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(*c);
      continue;
    }
    if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(*c, handler, delivered);
    if (c->state == Connection::State::open && (events[i].events & EPOLLOUT)) {
      Peer& p = peer(c->peer);
      if (send_connection(p) == c) write_out(p);
    }
  }
  sweep_closed();
  return delivered;
}

std::size_t Transport::queued_bytes() const noexcept {
  std::size_t total = 0;
  for (const Peer* p : dirty_) total += p->out.size() - p->out_sent;
  return total;
}

std::vector<EndpointId> Transport::take_disconnected() {
  std::vector<EndpointId> out;
  out.swap(disconnected_);
  return out;
}

}  // namespace shmraft::ipc::tcp
