// issue 13: the leader killed 100 times in a row; every election started by the death signal.
#include <gtest/gtest.h>

#include "tests/cluster/failover_harness.h"

namespace shmraft::cluster_test {
namespace {

TEST(LongFailover, HundredLeaderKillsEachElectedByTheDeathSignal) {
  kill_leaders_while_writing("failover-long", 100);
}

}  // namespace
}  // namespace shmraft::cluster_test
