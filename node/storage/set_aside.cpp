#include "node/storage/set_aside.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

// Copies `name` from directory `from` into directory `to`, only the ranges that hold data: the unwritten
// rest of a preallocated segment stays a hole.
void copy_below(int from, int to, const std::string& name, const fs::path& source, const fs::path& target) {
  const UniqueFd in = open_below(from, name, O_RDONLY, source);
  const int created = ::openat(to, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (created < 0) throw_errno("cannot create", target, errno);
  const UniqueFd out(created);
  const uint64_t size = file_size(in.get(), source);
  std::vector<std::byte> buffer(std::size_t{1} << 20);
  for (const auto& [begin, end] : data_ranges(in.get(), 0, size)) {
    for (uint64_t at = begin; at < end;) {
      const std::size_t bytes = static_cast<std::size_t>(std::min<uint64_t>(buffer.size(), end - at));
      read_all_at(in.get(), buffer.data(), bytes, at, source);
      write_all_at(out.get(), buffer.data(), bytes, at, target);
      at += bytes;
    }
  }
  if (::ftruncate(out.get(), static_cast<off_t>(size)) != 0) throw_errno("cannot size", target, errno);
  sync_fd(out.get(), target);
}

UniqueFd make_private_directory(int parent, const std::string& name, const fs::path& path) {
  if (::mkdirat(parent, name.c_str(), 0700) != 0) throw_errno("cannot create", path, errno);
  return open_below(parent, name, O_RDONLY | O_DIRECTORY, path);
}

// Moves the storage's files of `dir` into damaged-<incarnation>; returns one note per file moved.
std::vector<std::string> set_aside(const fs::path& dir, uint64_t incarnation) {
  const DirectoryLock lock(dir);  // no other start moves or opens them meanwhile
  const UniqueFd node = open_directory(dir);
  const std::string name = std::string(kSetAsidePrefix) + std::to_string(incarnation);
  const fs::path target = dir / name;
  const UniqueFd aside = make_private_directory(node.get(), name, target);
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

std::vector<std::string> set_aside_damaged_part(const fs::path& dir, uint64_t incarnation,
                                                const std::vector<fs::path>& zeroed,
                                                const std::vector<fs::path>& removed) {
  const std::string meta(format::kMetaFileName);
  const std::string log(format::kLogDirName);
  const fs::path target = dir / (std::string(kSetAsidePrefix) + std::to_string(incarnation));
  const UniqueFd node = open_directory(dir);
  const UniqueFd aside = make_private_directory(node.get(), target.filename().string(), target);
  const UniqueFd log_dir = open_below(node.get(), log, O_RDONLY | O_DIRECTORY, dir / log);
  const UniqueFd aside_log = make_private_directory(aside.get(), log, target / log);
  std::vector<std::string> notes;
  copy_below(node.get(), aside.get(), meta, dir / meta, target / meta);
  notes.push_back(meta + " set aside as " + (target / meta).string() + " (a copy)");
  for (const fs::path& segment : zeroed) {
    const std::string name = segment.filename().string();
    copy_below(log_dir.get(), aside_log.get(), name, segment, target / log / name);
    notes.push_back(log + "/" + name + " set aside as " + (target / log / name).string() +
                    " (a copy: the log keeps its records before the damage)");
  }
  for (const fs::path& segment : removed) {
    const std::string name = segment.filename().string();
    if (::linkat(log_dir.get(), name.c_str(), aside_log.get(), name.c_str(), 0) != 0)
      throw_errno("cannot link into " + (target / log).string() + ":", segment, errno);
    notes.push_back(log + "/" + name + " set aside as " + (target / log / name).string());
  }
  restrict_modes(aside.get(), target);
  sync_fd(aside_log.get(), target / log);
  sync_fd(aside.get(), target);
  sync_fd(node.get(), dir);
  return notes;
}

NodeStorage open_or_set_aside(const fs::path& dir, const Options& node_options, uint64_t incarnation,
                              const std::function<void(const std::string&)>& note) {
  Options options = node_options;
  options.lost_mark_on_damage = incarnation;
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
