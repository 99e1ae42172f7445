#pragma once
// A segment of the test's own, under a name unique to this process, destroyed when the test ends however
// it ends: for client tests that play the nodes' side of the rings themselves.
#include <unistd.h>

#include <string>

#include "ipc/segment.h"

namespace shmraft::test {

struct OwnSegment {
  explicit OwnSegment(const std::string& prefix)
      : name(prefix + "-" + std::to_string(::getpid())),
        segment(ipc::Segment::create(name, ipc::SegmentConfig{})) {}
  ~OwnSegment() { ipc::Segment::destroy(name); }
  OwnSegment(const OwnSegment&) = delete;
  OwnSegment& operator=(const OwnSegment&) = delete;

  std::string name;
  ipc::Segment segment;
};

}  // namespace shmraft::test
