#pragma once
// What the ipc benchmarks share: forked children and a segment that disappears with the run.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include "ipc/segment.h"

namespace shmraft::ipc::bench {

// Runs `body` in a child process that exits when it returns (never returns into the benchmark).
template <class Body>
pid_t fork_child(Body body) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    body();
    std::_Exit(0);
  }
  return pid;
}

inline void reap(pid_t pid) {
  int status;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// A segment of `nodes` nodes, no client slots and small peer rings unless told, named after the run.
class BenchSegment {
 public:
  explicit BenchSegment(uint32_t nodes = 2, uint64_t peer_ring_capacity = SegmentConfig{}.peer_ring_capacity)
      : name_("bench-" + std::to_string(::getpid())) {
    Segment::destroy(name_);
    SegmentConfig config;
    config.node_count = nodes;
    config.client_slots = 0;
    config.peer_ring_capacity = peer_ring_capacity;
    segment_.emplace(Segment::create(name_, config));
  }
  ~BenchSegment() { Segment::destroy(name_); }
  BenchSegment(const BenchSegment&) = delete;
  BenchSegment& operator=(const BenchSegment&) = delete;
  Segment& get() { return *segment_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::optional<Segment> segment_;
};

}  // namespace shmraft::ipc::bench
