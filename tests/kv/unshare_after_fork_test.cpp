// After a snapshot's fork the parent's apply must not pay a copy-on-write fault per value page it writes:
// ValueMemory::unshare() copies them at once (in a node, on a thread: value_copier.h). Counted with
// getrusage's minor faults: the same overwrite of every value after a fork faults once per value page
// without it (the check that the count sees copy-on-write at all) and hardly at all with it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "node/kv/state_machine.h"
#include "tests/kv/kv_test_util.h"
#include "tests/page_faults.h"

namespace shmraft::kv {
namespace {
using namespace test;
using shmraft::testing::fault_counts_are_the_programs;
using shmraft::testing::minor_faults;

constexpr int kKeys = 16384;
constexpr std::size_t kValueBytes = 64;  // 256 pages of values

// Forks a child that holds the memory as a snapshot child does until the parent overwrote every value
// (with `fill`, from log index `index` on); returns the parent's minor faults over the overwrite.
long faults_overwriting_after_fork(StateMachine& kv, uint64_t& index, char fill, bool unshare) {
  std::vector<std::vector<std::byte>> commands;
  for (int k = 0; k < kKeys; ++k)
    commands.push_back(encode(put(numbered("key", k), std::string(kValueBytes, fill))));
  int gate[2];
  if (::pipe(gate) != 0) return -1;
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(gate[1]);
    char byte;
    (void)::read(gate[0], &byte, 1);
    _exit(0);
  }
  if (unshare) kv.value_memory().unshare();
  const long before = minor_faults();
  for (const std::vector<std::byte>& command : commands) kv.apply(++index, command);
  const long faults = minor_faults() - before;
  ::close(gate[1]);  // the child reads EOF and exits
  ::close(gate[0]);
  ::waitpid(child, nullptr, 0);
  return faults;
}

TEST(KvSnapshotFork, UnsharedValuesCostApplyNoCopyOnWriteFaults) {
  StateMachine kv;
  uint64_t index = 0;
  for (int k = 0; k < kKeys; ++k)
    kv.apply(++index, encode(put(numbered("key", k), std::string(kValueBytes, 'a'))));
  constexpr long kValuePages = kKeys * kValueBytes / 4096;
  const long shared = faults_overwriting_after_fork(kv, index, 'b', false);
  const long unshared = faults_overwriting_after_fork(kv, index, 'c', true);
  if (fault_counts_are_the_programs()) {
    EXPECT_GE(shared, kValuePages) << "every page of values is copied on its first write after the fork";
    EXPECT_LT(unshared, kValuePages / 16) << "the pages were copied before apply wrote them";
  }
  EXPECT_EQ(kv.get(numbered("key", kKeys - 1)), std::string(kValueBytes, 'c'));
}

TEST(KvSnapshotFork, RestoredValuesAreUnsharedToo) {
  StateMachine source;
  uint64_t index = 0;
  for (int k = 0; k < kKeys; ++k)
    source.apply(++index, encode(put(numbered("key", k), std::string(kValueBytes, 'a'))));
  StateMachine kv;
  kv.restore(source.snapshot());  // its values live in the restore's slab, overwritten in place
  const long unshared = faults_overwriting_after_fork(kv, index, 'b', true);
  if (fault_counts_are_the_programs()) {
    EXPECT_LT(unshared, kKeys * static_cast<long>(kValueBytes) / 4096 / 16);
  }
  EXPECT_EQ(kv.get(numbered("key", 0)), std::string(kValueBytes, 'b'));
}

}  // namespace
}  // namespace shmraft::kv
