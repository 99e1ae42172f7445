#pragma once
// A KV snapshot written off the node loop, as LogCabin does: fork() gives a child the state machine as
// it stands (copy-on-write), the child serialises it into an image file, flushes it and exits; the loop
// only pays for fork() (copying the page tables) and later learns of the exit with a waitpid(WNOHANG).
// The parent's writes after the fork touch copies of pages, never what the child reads, so the image is
// exactly the state at applied_index() of the moment of the fork.
//
// The child dies with the parent (PR_SET_PDEATHSIG), so it never holds the data directory's lock for a
// restarted node. It runs no destructors and no atexit handlers (_exit), and touches nothing but its
// own copy of memory and the image file.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>

#include "node/kv/state_machine.h"

namespace shmraft::node {

class ForkedSnapshot {
 public:
  enum class Status { kIdle, kRunning, kDone, kFailed };

  // Removes an image file a killed process left behind.
  explicit ForkedSnapshot(std::filesystem::path image_file);
  ~ForkedSnapshot();  // cancel()
  ForkedSnapshot(const ForkedSnapshot&) = delete;
  ForkedSnapshot& operator=(const ForkedSnapshot&) = delete;

  // Forks the child that writes `kv`'s image. Throws std::system_error when fork() fails.
  void start(const kv::StateMachine& kv);
  // kRunning until the child exited; then, once, kDone (the image file is whole and flushed: the caller
  // reads it and calls finish()) or kFailed (exit_code() says why); kIdle when no child runs.
  Status poll();
  // The result was used: removes the image file.
  void finish();
  // Kills a running child and removes its file (a newer snapshot arrived, or the node stops).
  void cancel();

  bool running() const noexcept { return child_ > 0; }
  uint64_t index() const noexcept { return index_; }      // the applied index the image holds
  uint64_t fork_ns() const noexcept { return fork_ns_; }  // how long fork() held the loop
  uint64_t started_ns() const noexcept { return started_ns_; }
  int exit_code() const noexcept { return exit_code_; }  // of a failed child: see forked_snapshot.cpp
  const std::filesystem::path& file() const noexcept { return file_; }

 private:
  std::filesystem::path file_;
  pid_t child_ = 0;
  uint64_t index_ = 0;
  uint64_t fork_ns_ = 0;
  uint64_t started_ns_ = 0;
  int exit_code_ = 0;
};

}  // namespace shmraft::node
