#include "node/storage/set_aside.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "node/storage/file.h"
#include "node/storage/format.h"

namespace shmraft::storage {

namespace fs = std::filesystem;

namespace {

// What NodeStorage keeps in a node directory (node_storage.h), and meta's temporary file.
constexpr std::string_view kStorageNames[] = {format::kMetaFileName, "meta.tmp", format::kLogDirName,
                                              format::kSnapshotDirName};

void sync_fd(int fd, const fs::path& path) {
  if (::fsync(fd) != 0) throw_errno("fsync failed for", path, errno);
}

UniqueFd open_below(int parent, const std::string& name, int flags, const fs::path& path) {
  const int fd = ::openat(parent, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open", path, errno);
  return UniqueFd(fd);
}

// Makes every directory under `fd` 0700 and every regular file 0600, never following a link (a link is
// left as it is: its own mode means nothing).
void restrict_modes(int fd, const fs::path& path) {
  if (::fchmod(fd, 0700) != 0) throw_errno("cannot chmod", path, errno);
  const int listing = ::dup(fd);
  if (listing < 0) throw_errno("cannot list", path, errno);
  DIR* dir = ::fdopendir(listing);
  if (dir == nullptr) {
    ::close(listing);
    throw_errno("cannot list", path, errno);
  }
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);
  for (const std::string& name : names) {
    struct stat st;
    if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      throw_errno("cannot stat", path / name, errno);
    if (S_ISDIR(st.st_mode)) {
      restrict_modes(open_below(fd, name, O_RDONLY | O_DIRECTORY, path / name).get(), path / name);
    } else if (S_ISREG(st.st_mode)) {
      const UniqueFd file = open_below(fd, name, O_RDONLY | O_NONBLOCK, path / name);
      if (::fchmod(file.get(), 0600) != 0) throw_errno("cannot chmod", path / name, errno);
    }
  }
}

// Moves the storage's files of `dir` into damaged-<incarnation>; returns one note per file moved.
std::vector<std::string> set_aside(const fs::path& dir, uint64_t incarnation) {
  const DirectoryLock lock(dir);  // no other start moves or opens them meanwhile
  const UniqueFd node = open_directory(dir);
  const std::string name = std::string(kSetAsidePrefix) + std::to_string(incarnation);
  const fs::path target = dir / name;
  if (::mkdirat(node.get(), name.c_str(), 0700) != 0) throw_errno("cannot create", target, errno);
  const UniqueFd aside = open_below(node.get(), name, O_RDONLY | O_DIRECTORY, target);
  std::vector<std::string> notes;
  for (const std::string_view part : kStorageNames) {
    const std::string entry(part);
    if (::renameat(node.get(), entry.c_str(), aside.get(), entry.c_str()) != 0) {
      if (errno == ENOENT) continue;
      throw_errno("cannot move into " + target.string() + ":", dir / entry, errno);
    }
    notes.push_back(entry + " set aside as " + (target / entry).string());
  }
  restrict_modes(aside.get(), target);
  sync_fd(aside.get(), target);
  sync_fd(node.get(), dir);
  return notes;
}

}  // namespace

NodeStorage open_or_set_aside(const fs::path& dir, const Options& node_options, uint64_t incarnation,
                              const std::function<void(const std::string&)>& note) {
  Options options = node_options;
  options.lost_mark_on_damaged_hard_state = incarnation;
  try {
    return NodeStorage(dir, options);
  } catch (const StorageError& error) {
    if (error.kind() != StorageError::Kind::kDamage) throw;
    note(std::string("damaged: ") + error.what() +
         "; the storage's files are set aside and the node starts " +
         "empty and lost, to be repaired from its peers");
    for (const std::string& moved : set_aside(dir, incarnation)) note(moved);
  }
  return NodeStorage(dir, options);
}

std::vector<std::string> set_aside_directories(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with(kSetAsidePrefix) && it->is_directory(error) && !it->is_symlink(error))
      found.push_back(name);
  }
  return found;
}

}  // namespace shmraft::storage
