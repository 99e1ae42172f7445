// A leader SIGKILL is known at once (issue 13): 20 kills in a row under a writing client, every election
// started by the kernel's death signal, nothing acknowledged lost. The 100-kill run is in
// long_failover_test.cpp (label long).
#include <gtest/gtest.h>

#include "tests/cluster/failover_harness.h"

namespace shmraft::cluster_test {
namespace {

TEST(Failover, TwentyLeaderKillsEachElectedByTheDeathSignal) {
  kill_leaders_while_writing("failover", 20);
}

}  // namespace
}  // namespace shmraft::cluster_test
