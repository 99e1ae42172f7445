#pragma once
// The states a power loss could leave in a node directory, built from what the storage flushed.
//
// Installed as the storage's FlushObserver, the model keeps, for each file, the bytes that flushes made
// durable (msync'd pages, fdatasync'd files) and, for each directory, the names its last fsync made
// durable. A crash state is then, at any instant:
//   * names: per directory, the durable names, with any subset of the changes made since the directory's
//     last fsync (creations, removals, renames) applied — POSIX orders none of them without that fsync. A
//     rename is atomic: the names sharing a file move together, old or new.
//   * bytes: per file, its durable bytes, with any subset of the 512-byte sectors that differ in its
//     current contents (the pages written since their last flush, torn at sectors) taken from those. A
//     file never flushed may also come back empty.
// "Current contents" are read from the page cache at each flush and crash point; a file removed since is
// taken as last seen. A sector rewritten twice between two points can only come back in the newer
// version (the model does not keep every intermediate write).
//
// The directory must be quiescent when the model starts: everything in it then counts as durable.
#include <compare>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "node/storage/flush_observer.h"

namespace shmraft::storage::testing {

class DiskModel final : public FlushObserver {
 public:
  // Takes `root` and its subdirectories log/ and snap/ as they are now as durable, and installs itself as
  // the flush observer. `crash_point` runs before every flush (a power loss there is the interesting one)
  // with the observer removed, so that it may open other storage.
  DiskModel(std::filesystem::path root, std::function<void()> crash_point);
  ~DiskModel();
  DiskModel(const DiskModel&) = delete;
  DiskModel& operator=(const DiskModel&) = delete;

  // Runs `crash_point` with the observer removed; before_flush() calls it, and so may the test between
  // its calls to the storage.
  void crash_point() noexcept;
  void before_flush(const FlushEvent& event) noexcept override;
  void after_flush(const FlushEvent& event) noexcept override;

  // Which unflushed changes a crash state kept: none of them (exactly what the flushes made durable), all
  // of them (what a kill of the process would leave), or a random share.
  enum class Kept { nothing_unflushed, everything, some };
  // Writes one state a power loss now could leave into `target` (created, with log/ and snap/).
  Kept write_crash_state(std::mt19937_64& rng, const std::filesystem::path& target);
  // Writes the state that holds exactly what the flushes so far made durable.
  void write_flushed_state(const std::filesystem::path& target);

  // How many sectors and names were still uncertain at the last crash state (for the run's summary).
  struct Uncertainty {
    uint64_t sectors = 0;
    uint64_t name_groups = 0;
  };
  const Uncertainty& uncertainty() const noexcept { return uncertainty_; }

 private:
  // A file, told apart from a later file that reuses its inode number by its birth time.
  struct FileId {
    uint64_t inode = 0;
    int64_t born_sec = 0;
    uint32_t born_nsec = 0;
    auto operator<=>(const FileId&) const = default;
  };
  using Names = std::map<std::string, FileId>;  // regular files of one directory
  using Bytes = std::vector<std::byte>;

  // Lists the directories and reads every file, refreshing last_seen_.
  std::map<std::filesystem::path, Names> scan();
  Names list(const std::filesystem::path& dir);
  FileId id_of(const std::filesystem::path& file) const;
  std::vector<std::filesystem::path> directories() const;
  // Drops the images of files that neither exist nor could come back (their removal is durable).
  void forget_unreachable(const std::map<std::filesystem::path, Names>& now);
  void write_state(const std::filesystem::path& target, double keep_new, std::mt19937_64& rng);
  Bytes crash_bytes(const FileId& file, std::mt19937_64& rng, double keep_new);
  static Bytes read_all(const std::filesystem::path& file);

  std::filesystem::path root_;
  std::function<void()> crash_point_;
  bool in_crash_point_ = false;
  std::map<std::filesystem::path, Names> durable_names_;
  std::map<FileId, Bytes> durable_bytes_;  // absent: nothing of that file was ever flushed
  std::map<FileId, Bytes> last_seen_;
  Uncertainty uncertainty_;
};

}  // namespace shmraft::storage::testing
