#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ipc/tcp/transport.h"

namespace shmraft::ipc::tcp {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Flushes and polls every transport until `done()` or the time runs out; returns done().
bool pump(std::vector<Transport*> transports,
          const std::function<void(Transport&, EndpointId, const Frame&)>& on_frame,
          const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    for (Transport* t : transports) {
      t->flush();
      t->poll(1ms, [&](EndpointId from, const Frame& f) { on_frame(*t, from, f); });
    }
  }
  return true;
}

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}
std::string text_of(const Frame& f) {
  return std::string(reinterpret_cast<const char*>(f.payload.data()), f.payload.size());
}

// Payload of frame `seq` from `sender`: its length and every byte follow from (sender, seq), so the
// receiver can check it without a side channel.
std::vector<std::byte> pattern(uint32_t sender, uint64_t seq, std::size_t length) {
  std::vector<std::byte> p(length);
  uint64_t x = seq * 0x9E3779B97F4A7C15ULL + sender;
  for (std::size_t i = 0; i < length; ++i) {
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ULL;
    p[i] = static_cast<std::byte>(x >> 56);
  }
  if (length >= 8) std::memcpy(p.data(), &seq, 8);
  return p;
}
std::size_t pattern_length(uint64_t seq) {
  if (seq % 1000 == 999) return 70'000;  // now and then one bigger than a read chunk
  return 8 + (seq * 37) % 500;
}

// Streams `count` frames to `peer` while receiving `count` from it, checking order, loss and content.
// Returns an empty string on success, else what went wrong.
std::string stream(Transport& t, EndpointId peer, uint64_t count) {
  uint64_t sent = 0, received = 0;
  std::string error;
  const auto deadline = Clock::now() + 60s;
  while ((sent < count || received < count || t.queued_bytes() > 0) && error.empty()) {
    if (Clock::now() > deadline)
      return "timed out: sent " + std::to_string(sent) + ", received " + std::to_string(received);
    // Keep the queue bounded like a ring: send a batch, then flush once.
    for (int batch = 0; batch < 64 && sent < count && t.queued_bytes() < (4u << 20); ++batch, ++sent) {
      const auto p = pattern(t.self(), sent, pattern_length(sent));
      if (!t.send(peer, 7, static_cast<uint16_t>(sent), p)) return "send refused at " + std::to_string(sent);
    }
    t.flush();
    t.poll(sent < count ? 0ns : std::chrono::nanoseconds(1ms), [&](EndpointId from, const Frame& f) {
      if (!error.empty()) return;
      const auto expected = pattern(peer, received, pattern_length(received));
      if (from != peer || f.type != 7 || f.flags != static_cast<uint16_t>(received) ||
          f.payload.size() != expected.size() ||
          !std::equal(expected.begin(), expected.end(), f.payload.begin())) {
        error = "frame " + std::to_string(received) + " lost, reordered or corrupted";
      }
      ++received;
    });
  }
  if (received != count) error += " received " + std::to_string(received) + " of " + std::to_string(count);
  return error;
}

// A pipe to tell a forked child the parent's port and the parent the child's.
struct Pipe {
  int fd[2];
  Pipe() { EXPECT_EQ(pipe(fd), 0); }
  ~Pipe() { close(fd[0]), close(fd[1]); }
  void put(uint16_t v) { EXPECT_EQ(write(fd[1], &v, sizeof v), static_cast<ssize_t>(sizeof v)); }
  uint16_t get() {
    uint16_t v = 0;
    EXPECT_EQ(read(fd[0], &v, sizeof v), static_cast<ssize_t>(sizeof v));
    return v;
  }
};

int wait_exit_code(pid_t pid) {
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(TcpTransport, TwoProcessesStreamBothWaysWithoutLossOrReordering) {
  constexpr uint64_t kFrames = 100'000;
  Pipe child_port;
  Transport parent({.self = 0});
  const uint16_t parent_port = parent.port();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Transport child({.self = 1});
    child_port.put(child.port());
    child.connect(0, parent_port);
    const std::string error = stream(child, 0, kFrames);
    if (!error.empty()) fprintf(stderr, "child: %s\n", error.c_str());
    _exit(error.empty() ? 0 : 1);
  }
  parent.connect(1, child_port.get());
  EXPECT_EQ(stream(parent, 1, kFrames), "");
  EXPECT_EQ(wait_exit_code(pid), 0);
  EXPECT_EQ(parent.counters().frames_received, kFrames);
  EXPECT_EQ(parent.counters().bad_crc, 0u);
  EXPECT_EQ(parent.counters().protocol_errors, 0u);
}

TEST(TcpTransport, LargeFramesArriveIntact) {
  const std::vector<std::size_t> sizes{0, 1, 65'535, 65'536, 1 << 20, 5'000'001, 16u << 20};
  Pipe ports;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Transport child({.self = 1, .listen = false});
    child.connect(0, ports.get());
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      if (!child.send(0, 1, static_cast<uint16_t>(i), pattern(1, i, sizes[i]))) _exit(2);
    }
    // Above max_payload: refused at the sender, never put on the wire.
    if (child.send(0, 1, 0, std::vector<std::byte>((16u << 20) + 1)) ||
        child.counters().dropped_too_large != 1)
      _exit(3);
    const auto deadline = Clock::now() + 30s;
    while (child.queued_bytes() > 0 || !child.connected(0)) {
      if (Clock::now() > deadline) _exit(4);
      child.flush();
      child.poll(1ms, [](EndpointId, const Frame&) {});
    }
    // Wait for the parent's receipt, so no byte is lost to an early exit.
    bool receipt = false;
    while (!receipt) {
      if (Clock::now() > deadline) _exit(5);
      child.poll(10ms, [&](EndpointId from, const Frame& f) { receipt = from == 0 && f.type == 9; });
    }
    _exit(0);
  }
  Transport parent({.self = 0});
  ports.put(parent.port());
  std::size_t got = 0;
  bool intact = true;
  ASSERT_TRUE(pump(
      {&parent},
      [&](Transport&, EndpointId from, const Frame& f) {
        const auto expected = pattern(1, got, sizes[got]);
        intact = intact && from == 1 && f.flags == got && f.payload.size() == sizes[got] &&
                 std::equal(expected.begin(), expected.end(), f.payload.begin());
        ++got;
      },
      [&] { return got == sizes.size(); }, 30s));
  EXPECT_TRUE(intact);
  // The parent answers on the connection the client opened: it is how the child learns we are done.
  EXPECT_TRUE(parent.connected(1));
  EXPECT_TRUE(parent.send(1, 9, 0, {}));
  ASSERT_TRUE(pump(
      {&parent}, [](Transport&, EndpointId, const Frame&) {}, [&] { return parent.queued_bytes() == 0; }));
  EXPECT_EQ(wait_exit_code(pid), 0) << "the child's send checks failed";
}

TEST(TcpTransport, PeerDeathIsDetectedInBothDirections) {
  Pipe child_port;
  Transport parent({.self = 0, .reconnect_interval = 5ms});
  const uint16_t parent_port = parent.port();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Transport child({.self = 1});
    child_port.put(child.port());
    child.connect(0, parent_port);
    std::string hello = "alive";
    child.send(0, 3, 0, bytes_of(hello));
    for (;;) {  // serve until killed
      child.flush();
      child.poll(10ms, [](EndpointId, const Frame&) {});
    }
  }
  parent.connect(1, child_port.get());
  std::string first;
  ASSERT_TRUE(pump(
      {&parent}, [&](Transport&, EndpointId, const Frame& f) { first = text_of(f); },
      [&] { return !first.empty() && parent.connected(1); }));
  EXPECT_EQ(first, "alive");
  kill(pid, SIGKILL);
  EXPECT_EQ(wait_exit_code(pid), 128 + SIGKILL);
  std::vector<EndpointId> gone;
  ASSERT_TRUE(pump(
      {&parent}, [](Transport&, EndpointId, const Frame&) {},
      [&] {
        for (EndpointId id : parent.take_disconnected()) gone.push_back(id);
        return gone.size() >= 2;
      }));
  EXPECT_EQ(gone, (std::vector<EndpointId>{1, 1}));  // its connection to us and ours to it
  EXPECT_FALSE(parent.connected(1));
  EXPECT_EQ(parent.counters().disconnects, 2u);
  // Frames for the dead peer queue (bounded) while the transport keeps trying to reconnect.
  std::string late = "late";
  EXPECT_TRUE(parent.send(1, 3, 0, bytes_of(late)));
  parent.flush();
  EXPECT_FALSE(parent.connected(1));
}

TEST(TcpTransport, ClientIsAnsweredOnTheConnectionItOpened) {
  Transport node({.self = 0});
  Transport client({.self = 1000, .listen = false});
  EXPECT_EQ(client.port(), 0);
  client.connect(0, node.port());
  std::string request = "put k v", reply = "ok";
  ASSERT_TRUE(client.send(0, 1, 0, bytes_of(request)));
  std::string node_got, client_got;
  ASSERT_TRUE(pump(
      {&node, &client},
      [&](Transport& t, EndpointId from, const Frame& f) {
        if (&t == &node) {
          EXPECT_EQ(from, 1000u);
          node_got = text_of(f);
          EXPECT_TRUE(node.send(from, 2, 0, bytes_of(reply)));  // from inside the handler
        } else {
          EXPECT_EQ(from, 0u);
          client_got = text_of(f);
        }
      },
      [&] { return !client_got.empty(); }));
  EXPECT_EQ(node_got, request);
  EXPECT_EQ(client_got, reply);
  EXPECT_EQ(node.counters().accepts, 1u);
  EXPECT_EQ(client.counters().connects, 1u);
}

TEST(TcpTransport, ConnectingBeforeThePeerListensRetriesAndDeliversWhatWasQueued) {
  uint16_t port;
  {
    Transport probe({.self = 9});
    port = probe.port();  // free again once probe is gone
  }
  Transport a({.self = 0, .reconnect_interval = 5ms});
  a.connect(1, port);
  std::string early = "sent before the peer existed";
  ASSERT_TRUE(a.send(1, 1, 0, bytes_of(early)));
  for (int i = 0; i < 5; ++i) {
    a.flush();
    a.poll(5ms, [](EndpointId, const Frame&) {});
  }
  EXPECT_FALSE(a.connected(1));
  Transport b({.self = 1, .listen_port = port});
  std::string got;
  ASSERT_TRUE(pump(
      {&a, &b}, [&](Transport&, EndpointId, const Frame& f) { got = text_of(f); },
      [&] { return !got.empty(); }));
  EXPECT_EQ(got, early);
}

TEST(TcpTransport, SendRefusalsAreCounted) {
  Transport t({.self = 0, .max_payload = 1024, .max_pending_bytes = 4096});
  std::vector<std::byte> small(100), big(1025);
  EXPECT_FALSE(t.send(5, 1, 0, small));  // nobody called 5
  EXPECT_EQ(t.counters().dropped_no_route, 1u);
  t.connect(5, 1);  // port 1: nothing listens, so the frames stay queued
  EXPECT_FALSE(t.send(5, 1, 0, big));
  EXPECT_EQ(t.counters().dropped_too_large, 1u);
  int accepted = 0;
  while (t.send(5, 1, 0, small)) ++accepted;
  EXPECT_EQ(accepted, 4096 / 112);
  EXPECT_EQ(t.counters().dropped_buffer_full, 1u);
  EXPECT_EQ(t.queued_bytes(), accepted * 112u);
}

TEST(TcpTransport, ListeningOnATakenPortIsAClearError) {
  Transport first({.self = 0});
  try {
    Transport second({.self = 1, .listen_port = first.port()});
    FAIL() << "two listeners on one port";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(first.port())), std::string::npos) << e.what();
  }
}

// A raw socket speaking (or garbling) the protocol at a transport.
class RawPeer {
 public:
  explicit RawPeer(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~RawPeer() { close(fd_); }
  int fd() const noexcept { return fd_; }
  void hello(uint32_t id, uint32_t magic = 0x43545253) {
    unsigned char h[16]{};
    std::memcpy(h, &magic, 4);
    const uint16_t version = 1;
    std::memcpy(h + 4, &version, 2);
    std::memcpy(h + 8, &id, 4);
    raw(h, sizeof h);
  }
  void frame(const std::string& payload, bool corrupt_crc = false, uint32_t claimed_length = 0) {
    // A claimed length (a lie) gets no real checksum: the receiver must reject it before looking.
    const auto length = claimed_length ? claimed_length : static_cast<uint32_t>(payload.size());
    FrameHeader h{length, 4, 0, claimed_length ? 0u : frame_crc(length, 4, 0, payload.data())};
    if (corrupt_crc) h.crc ^= 1;
    raw(&h, sizeof h);
    raw(payload.data(), payload.size());
  }
  void raw(const void* data, std::size_t size) {
    EXPECT_EQ(::send(fd_, data, size, MSG_NOSIGNAL), static_cast<ssize_t>(size));
  }

 private:
  int fd_;
};

TEST(TcpTransport, FrameWithABadCrcIsCountedAndSkipped) {
  Transport node({.self = 0});
  RawPeer peer(node.port());
  peer.hello(7);
  peer.frame("damaged", true);
  peer.frame("fine");
  std::vector<std::string> got;
  ASSERT_TRUE(pump(
      {&node},
      [&](Transport&, EndpointId from, const Frame& f) {
        EXPECT_EQ(from, 7u);
        got.push_back(text_of(f));
      },
      [&] { return !got.empty(); }));
  EXPECT_EQ(got, std::vector<std::string>{"fine"});
  EXPECT_EQ(node.counters().bad_crc, 1u);
}

TEST(TcpTransport, BadHelloOrImpossibleLengthClosesTheConnection) {
  Transport node({.self = 0, .max_payload = 1 << 20});
  RawPeer stranger(node.port());
  stranger.hello(7, 0xDEADBEEF);
  ASSERT_TRUE(pump(
      {&node}, [](Transport&, EndpointId, const Frame&) {},
      [&] { return node.counters().protocol_errors == 1; }));
  EXPECT_EQ(node.counters().accepts, 0u);

  RawPeer liar(node.port());
  liar.hello(8);
  liar.frame("x", false, (1 << 20) + 1);
  ASSERT_TRUE(pump(
      {&node}, [](Transport&, EndpointId, const Frame&) {},
      [&] { return node.counters().protocol_errors == 2; }));
  EXPECT_EQ(node.take_disconnected(), std::vector<EndpointId>{8});
}

// A process spawned or forked while a connection is open (a node the benchmark's supervisor restarts,
// before its exec; a node's snapshot child) holds a copy of its socket, so close() alone leaves the
// socket in the epoll set: epoll went on reporting it, with a pointer to the freed Connection (heap
// corruption in `bench --transport tcp --failover --clients 16`).
TEST(TcpTransport, AConnectionClosedWhileAForkedChildHoldsItsSocketIsReportedNoMore) {
  Transport node({.self = 0});
  auto client = std::make_unique<RawPeer>(node.port());
  client->hello(7);
  client->frame("hello");
  bool got = false;
  ASSERT_TRUE(pump(
      {&node}, [&](Transport&, EndpointId, const Frame&) { got = true; }, [&] { return got; }));
  struct Holder {  // a child holding a copy of the node's descriptors until killed
    pid_t pid = -1;
    ~Holder() {
      if (pid <= 0) return;
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } holder;
  holder.pid = fork();
  ASSERT_GE(holder.pid, 0);
  if (holder.pid == 0) {
    close(client->fd());  // not the client's: its end must close
    ::pause();
    _exit(0);
  }
  client.reset();  // the node reads the end of the client's stream and closes its side
  ASSERT_TRUE(pump(
      {&node}, [](Transport&, EndpointId, const Frame&) {},
      [&] { return node.counters().disconnects == 1; }));
  // Nothing is left to happen at the node: a poll waits out its timeout. The closed socket, still open
  // in the child and still in the epoll set, would be reported at once (end of stream, level-triggered).
  const auto start = Clock::now();
  node.poll(300ms, [](EndpointId, const Frame&) {});
  EXPECT_GE(Clock::now() - start, 250ms) << "epoll reported a socket the transport had closed";
}

}  // namespace
}  // namespace shmraft::ipc::tcp
