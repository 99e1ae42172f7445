#pragma once
// Restores a leader's snapshot, received whole into a file (snapshot_receiver.h), without the node loop.
// A thread flushes the file (fdatasync: it is renamed into snap/ next and must be whole after a power
// loss too, in every durability mode, as every snapshot file) while another restores a fresh state
// machine from it (mapped read-only, parsed, its own CRC checked). Meanwhile the loop runs on — heartbeats
// are answered, the core knows nothing of the snapshot yet — and polls finished(); only then does the node
// step the core, whose Ready renames the file into place (RaftStorage::expect_received) and swaps the state
// machine in (take()). What the install replaces is let go off the loop too (retirer.h).
#include <atomic>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <optional>
#include <thread>

#include "node/kv/state_machine.h"
#include "node/storage/node_storage.h"

namespace shmraft::node {

class SnapshotInstaller {
 public:
  // `testing_delay_ms`: the thread waits that long before it starts (NodeOptions::testing_install_delay_ms).
  explicit SnapshotInstaller(uint32_t testing_delay_ms = 0) : testing_delay_ms_(testing_delay_ms) {}
  ~SnapshotInstaller();  // waits for a restore under way
  SnapshotInstaller(const SnapshotInstaller&) = delete;
  SnapshotInstaller& operator=(const SnapshotInstaller&) = delete;

  // Starts restoring `file`, a whole snapshot file in the storage's format whose header records `meta`.
  // Not while running().
  void start(std::filesystem::path file, const storage::SnapshotMeta& meta);
  // Started and not yet taken or dropped.
  bool running() const noexcept { return worker_.joinable(); }
  // The thread is done: take() will not wait.
  bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  // The restored state machine, waiting for the thread if need be. Rethrows what the thread met: a
  // storage::StorageError, a kv::SnapshotError (an image that is no KV snapshot, or one of another index).
  kv::StateMachine take();
  const storage::SnapshotMeta& meta() const noexcept { return meta_; }
  // Of the last install, once finished: its flush, and the whole (flush and restore, side by side).
  uint64_t flush_ns() const noexcept { return flush_ns_; }
  uint64_t restore_ns() const noexcept { return restore_ns_; }

 private:
  void restore(const std::filesystem::path& file);  // the thread's work: flush and restore_from()
  void restore_from(int fd, const std::filesystem::path& file);

  uint32_t testing_delay_ms_;
  std::thread worker_;
  std::atomic<bool> finished_{false};
  storage::SnapshotMeta meta_;
  std::optional<kv::StateMachine> result_;
  std::exception_ptr error_;
  uint64_t flush_ns_ = 0;
  uint64_t restore_ns_ = 0;
};

}  // namespace shmraft::node
