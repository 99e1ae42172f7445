#pragma once
// Helpers shared by the ipc tests: a ring in private memory, unique cluster names, forked children,
// deterministic payloads and replayable seeds.
#include <gtest/gtest.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "ipc/ring.h"
#include "ipc/segment.h"

namespace shmraft::ipc::test {

// A ring whose control block and buffer live in this process (threads, single-process tests, TSan).
class LocalRing {
 public:
  explicit LocalRing(uint64_t capacity)
      : control_(std::make_unique<RingControl>()),
        buffer_(static_cast<std::byte*>(std::aligned_alloc(kCacheLine, capacity))),
        capacity_(capacity) {}
  ~LocalRing() { std::free(buffer_); }
  LocalRing(const LocalRing&) = delete;
  LocalRing& operator=(const LocalRing&) = delete;

  RingProducer producer(Doorbell* bell = nullptr) {
    return RingProducer(*control_, buffer_, capacity_, bell);
  }
  RingConsumer consumer() { return RingConsumer(*control_, buffer_, capacity_); }
  RingControl& control() { return *control_; }
  std::byte* buffer() { return buffer_; }
  uint64_t capacity() const { return capacity_; }

 private:
  std::unique_ptr<RingControl> control_;
  std::byte* buffer_;
  uint64_t capacity_;
};

// A cluster name no other test process uses; the segment is destroyed when the guard goes away.
class ScopedCluster {
 public:
  ScopedCluster() {
    static int counter = 0;
    name_ = "test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    Segment::destroy(name_);
  }
  ~ScopedCluster() { Segment::destroy(name_); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// The smallest segment config for tests that need no ring traffic: 4 KiB rings.
inline SegmentConfig tiny_config(uint32_t nodes, uint32_t client_slots = 0) {
  SegmentConfig config;
  config.node_count = nodes;
  config.max_nodes = nodes;  // no room above: ids past `nodes` are out of range
  config.client_slots = client_slots;
  config.peer_ring_capacity = 4 << 10;
  config.client_ring_capacity = 4 << 10;
  return config;
}

// Runs `body` in a forked child that exits with its return value (never returns into gtest).
template <class Body>
pid_t fork_child(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 99;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child %d: %s\n", ::getpid(), e.what());
    }
    std::_Exit(code);
  }
  return pid;
}

// waitpid; returns the exit code, or 128 + signal.
inline int wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Deterministic frame content for sequence number `seq`: length and bytes both derive from it, so the
// consumer can check every byte without being told anything else.
inline uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline uint32_t payload_length(uint64_t seq, uint32_t max_length) {
  return static_cast<uint32_t>(8 + mix(seq) % (max_length - 7));
}

// Writes [seq (8 bytes)][bytes derived from seq] into `out` (length >= 8).
inline void fill_payload(std::byte* out, uint32_t length, uint64_t seq, uint64_t stream = 0) {
  std::memcpy(out, &seq, 8);
  uint64_t state = mix(seq ^ (stream << 48));
  for (uint32_t i = 8; i < length; i += 8) {
    state = mix(state);
    std::memcpy(out + i, &state, std::min<uint32_t>(8, length - i));
  }
}

inline bool payload_matches(std::span<const std::byte> payload, uint64_t seq, uint64_t stream = 0) {
  const auto length = static_cast<uint32_t>(payload.size());
  if (length < 8 || std::memcmp(payload.data(), &seq, 8) != 0) return false;
  uint64_t state = mix(seq ^ (stream << 48));
  for (uint32_t i = 8; i < length; i += 8) {
    state = mix(state);
    if (std::memcmp(payload.data() + i, &state, std::min<uint32_t>(8, length - i)) != 0) return false;
  }
  return true;
}

inline uint64_t payload_seq(std::span<const std::byte> payload) {
  uint64_t seq = 0;
  if (payload.size() >= 8) std::memcpy(&seq, payload.data(), 8);
  return seq;
}

// Seed from SHMRAFT_SEED, else random; the returned trace line replays the test.
inline uint64_t test_seed(std::string* replay) {
  uint64_t seed;
  if (const char* env = std::getenv("SHMRAFT_SEED")) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    std::random_device device;
    seed = (uint64_t{device()} << 32) | device();
  }
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  *replay = "seed " + std::to_string(seed) + "; replay: SHMRAFT_SEED=" + std::to_string(seed) + " " +
            ::testing::internal::GetArgvs()[0] + " --gtest_filter=" + info->test_suite_name() + "." +
            info->name();
  return seed;
}

// True in a ThreadSanitizer build.
constexpr bool kThreadSanitizer =
#if defined(__SANITIZE_THREAD__)
    true;
#else
    false;
#endif

}  // namespace shmraft::ipc::test
