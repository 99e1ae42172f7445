#pragma once
// Every KV snapshot is written off the node loop, as LogCabin does: fork() gives a child the state machine
// as it stands (copy-on-write); the child serialises it and writes the snapshot file in its final on-disk
// form (header, CRC, data; flushed) under the storage's staging name. The loop pays for fork() (copying
// the page tables of the anonymous memory: the log segments and the shared segment are MAP_SHARED, whose
// page tables fork() does not copy) and for a rename, nothing else. Apply writes values in place, and the
// first write to each of their pages after the fork would be a copy-on-write fault on the loop (15-50 us
// and more apiece on this VM, in the batches that follow): a thread of the parent, started with this
// object and woken after each fork, copies them (kv::ValueCopier).
//
//   start()  ->  poll() == kWritten: the loop renames the staged file into place (without reading it)
//                and calls installed()  ->  the child fsyncs snap/ (per the durability mode) and exits,
//                dropping the last reference to the snapshot file it replaced (held open since it
//                started, so the rename frees nothing: freeing a file's blocks costs ~7 ms per 7 MiB on
//                ext4 with discard)  ->  poll() == kDone: the rename is durable, the log may be compacted.
//
// The parent's writes after the fork touch copies of pages, never what the child reads, so the image is
// exactly the state at applied_index() of the moment of the fork.
//
// The child closes every descriptor it inherited (the data directory's lock among them) and dies with the
// parent (PR_SET_PDEATHSIG); a staged file it leaves behind is removed when the directory is opened. It runs
// at a lower priority than the loop (nice +10: it is background work, and on a small host it competes with
// the loops for cores), runs no destructors and no atexit handlers (_exit), and touches nothing but its own
// copy of memory, the staged file, the replaced file and snap/.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>

#include "node/kv/state_machine.h"
#include "node/kv/value_copier.h"
#include "node/storage/file.h"
#include "node/storage/node_storage.h"

namespace shmraft::node {

class ForkedSnapshot {
 public:
  enum class Status { kIdle, kRunning, kWritten, kDone, kFailed };

  // `staged_file`: where the child writes (NodeStorage::snapshot_staging_file()); `installed_file`: the
  // snapshot it replaces (NodeStorage::snapshot_file()); `sync_directory`: whether the child fsyncs their
  // directory after the rename (not in durability mode none).
  // Starts the copier's thread (throws std::system_error if it cannot).
  ForkedSnapshot(std::filesystem::path staged_file, std::filesystem::path installed_file, bool sync_directory)
      : file_(std::move(staged_file)),
        installed_file_(std::move(installed_file)),
        sync_directory_(sync_directory) {}
  ~ForkedSnapshot();  // cancel()
  ForkedSnapshot(const ForkedSnapshot&) = delete;
  ForkedSnapshot& operator=(const ForkedSnapshot&) = delete;

  // Forks the child that writes `kv`'s image as the snapshot `meta` (meta.last_index must be
  // kv.applied_index()). Throws std::system_error when fork() or pipe() fails.
  void start(const kv::StateMachine& kv, const storage::SnapshotMeta& meta);
  // kRunning while the child works or waits; once, kWritten: the staged file is whole and flushed, the
  // caller renames it into place and calls installed(); then, once, kDone (the rename is durable) or
  // kFailed (exit_code() says why; a staged file is removed); kIdle when no child runs.
  Status poll();
  // The staged file was renamed into place: the child makes that durable and exits.
  void installed();
  // Kills a running child and removes its file (a newer snapshot arrived, or the node stops).
  void cancel();

  bool running() const noexcept { return child_ > 0; }
  const storage::SnapshotMeta& meta() const noexcept { return meta_; }  // of the snapshot being written
  // How long fork() and handing the copier its job held the loop.
  uint64_t fork_ns() const noexcept { return fork_ns_; }
  uint64_t started_ns() const noexcept { return started_ns_; }
  int exit_code() const noexcept { return exit_code_; }  // of a failed child: see forked_snapshot.cpp
  // The CPU (user and system) the last child used, once poll() saw it exit: beside its wall time, how
  // much of that was work and how much waiting for a core at nice +10.
  uint64_t child_cpu_ns() const noexcept { return child_cpu_ns_; }
  const std::filesystem::path& file() const noexcept { return file_; }

 private:
  void release_child();  // forgets a child that exited
  void remove_staged_file();

  std::filesystem::path file_;
  std::filesystem::path installed_file_;
  bool sync_directory_;
  pid_t child_ = 0;
  // To the child: it sends a byte once the staged file is whole, the parent one once it renamed the file.
  storage::UniqueFd channel_;
  bool written_seen_ = false;
  bool installed_ = false;
  storage::SnapshotMeta meta_;
  uint64_t fork_ns_ = 0;
  uint64_t started_ns_ = 0;
  int exit_code_ = 0;
  uint64_t child_cpu_ns_ = 0;
  kv::ValueCopier copier_;
};

}  // namespace shmraft::node
