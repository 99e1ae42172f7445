#pragma once
// Leader SIGKILLs under a writing client (issue 13): each kill must be followed by an election that the
// kernel's death signal started, not a timeout, and no acknowledged write may be lost. The windows
// (kill -> first write acknowledged by the new leader) are printed, never asserted: timing belongs to
// `shmraft bench --failover`, not to a test on a shared machine.
#include <cstdint>
#include <string>

namespace shmraft::cluster_test {

// Runs a 3-node cluster, kills its leader `kills` times in a row while a session client writes, restarts
// each victim once a new leader acknowledged a write, then reads back every acknowledged write. Reports
// failures through gtest.
void kill_leaders_while_writing(const std::string& label, int kills);

}  // namespace shmraft::cluster_test
