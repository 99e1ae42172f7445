#include "disk_model.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <stdexcept>
#include <utility>

#include "node/storage/format.h"

namespace shmraft::storage::testing {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kSectorBytes = 512;
constexpr std::size_t kPageBytes = 4096;

bool chance(std::mt19937_64& rng, double probability) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53 < probability;
}

void write_file(const fs::path& path, const std::vector<std::byte>& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + path.string());
  const ssize_t written = ::pwrite(fd, bytes.data(), bytes.size(), 0);
  ::close(fd);
  if (written != static_cast<ssize_t>(bytes.size()))
    throw std::runtime_error("cannot write " + path.string());
}

// Names that share a file (a rename in flight) form one group: they change together or not at all.
class NameGroups {
 public:
  std::size_t find(std::size_t i) { return parent_[i] == i ? i : parent_[i] = find(parent_[i]); }
  void join(std::size_t a, std::size_t b) { parent_[find(a)] = find(b); }
  std::size_t add() {
    parent_.push_back(parent_.size());
    return parent_.size() - 1;
  }

 private:
  std::vector<std::size_t> parent_;
};

}  // namespace

DiskModel::DiskModel(fs::path root, std::function<void()> crash_point)
    : root_(root.lexically_normal()), crash_point_(std::move(crash_point)) {
  for (auto& [dir, names] : scan()) {
    for (const auto& [name, id] : names) durable_bytes_[id] = last_seen_.at(id);
    durable_names_[dir] = std::move(names);
  }
  set_flush_observer(this);
}

DiskModel::~DiskModel() {
  set_flush_observer(nullptr);
}

std::vector<fs::path> DiskModel::directories() const {
  return {root_, root_ / format::kLogDirName, root_ / format::kSnapshotDirName};
}

DiskModel::FileId DiskModel::id_of(const fs::path& file) const {
  struct statx info {};
  if (::statx(AT_FDCWD, file.c_str(), 0, STATX_INO | STATX_BTIME, &info) != 0)
    throw std::runtime_error("cannot stat " + file.string());
  FileId id{info.stx_ino, 0, 0};
  if (info.stx_mask & STATX_BTIME) {
    id.born_sec = info.stx_btime.tv_sec;
    id.born_nsec = info.stx_btime.tv_nsec;
  }
  return id;
}

DiskModel::Bytes DiskModel::read_all(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + file.string());
  struct stat info {};
  ::fstat(fd, &info);
  Bytes bytes(static_cast<std::size_t>(info.st_size));
  const ssize_t n = ::pread(fd, bytes.data(), bytes.size(), 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(bytes.size())) throw std::runtime_error("cannot read " + file.string());
  return bytes;
}

DiskModel::Names DiskModel::list(const fs::path& dir) {
  Names names;
  for (const auto& item : fs::directory_iterator(dir)) {
    const std::string name = item.path().filename().string();
    // A spare for the next roll is made on a thread of its own, while the model reads, and whatever of it a
    // crash keeps is removed by recovery (StorageSpareSegment): it enters the model when the loop flushes
    // its header and renames it.
    if (name.starts_with("spare-") && name.ends_with(format::kTemporarySuffix)) continue;
    if (item.is_regular_file()) names[name] = id_of(item.path());
  }
  return names;
}

std::map<fs::path, DiskModel::Names> DiskModel::scan() {
  std::map<fs::path, Names> found;
  for (const fs::path& dir : directories()) {
    Names names = list(dir);
    for (const auto& [name, id] : names) last_seen_[id] = read_all(dir / name);
    found[dir] = std::move(names);
  }
  return found;
}

void DiskModel::before_flush(const FlushEvent&) noexcept {
  crash_point();
}

void DiskModel::crash_point() noexcept {
  if (in_crash_point_ || !crash_point_) return;
  in_crash_point_ = true;
  set_flush_observer(nullptr);
  try {
    crash_point_();
  } catch (const std::exception& error) {
    ADD_FAILURE() << "crash point failed: " << error.what();
  }
  set_flush_observer(this);
  in_crash_point_ = false;
}

void DiskModel::after_flush(const FlushEvent& event) noexcept {
  try {
    const fs::path path = event.path.lexically_normal();
    switch (event.kind) {
      case FlushKind::directory: {
        const std::map<fs::path, Names> now = scan();
        durable_names_[path] = now.at(path);
        forget_unreachable(now);
        break;
      }
      case FlushKind::file_data: {
        const FileId id = id_of(path);
        durable_bytes_[id] = last_seen_[id] = read_all(path);
        break;
      }
      case FlushKind::file_range: {
        // msync writes whole pages: the bytes after `to` in its last page are durable too.
        const FileId id = id_of(path);
        const Bytes now = read_all(path);
        Bytes& durable = durable_bytes_[id];
        durable.resize(now.size());
        const std::size_t end = std::min(now.size(), (event.to + kPageBytes - 1) / kPageBytes * kPageBytes);
        std::copy(now.begin() + static_cast<std::ptrdiff_t>(std::min(event.from, end)),
                  now.begin() + static_cast<std::ptrdiff_t>(end),
                  durable.begin() + static_cast<std::ptrdiff_t>(std::min(event.from, end)));
        last_seen_[id] = now;
        break;
      }
    }
  } catch (const std::exception& error) {
    ADD_FAILURE() << "recording a flush of " << event.path << " failed: " << error.what();
  }
}

void DiskModel::forget_unreachable(const std::map<fs::path, Names>& now) {
  std::set<FileId> reachable;
  for (const std::map<fs::path, Names>* listing : {&now, &std::as_const(durable_names_)}) {
    for (const auto& [dir, names] : *listing) {
      for (const auto& [name, id] : names) reachable.insert(id);
    }
  }
  for (auto* images : {&durable_bytes_, &last_seen_}) {
    std::erase_if(*images, [&](const auto& image) { return !reachable.contains(image.first); });
  }
}

DiskModel::Bytes DiskModel::crash_bytes(const FileId& file, std::mt19937_64& rng, double keep_new) {
  const auto durable = durable_bytes_.find(file);
  const Bytes old_bytes = durable == durable_bytes_.end() ? Bytes{} : durable->second;
  const auto seen = last_seen_.find(file);
  const Bytes& new_bytes = seen == last_seen_.end() ? old_bytes : seen->second;
  std::size_t size = old_bytes.size();
  if (new_bytes.size() != size) {
    ++uncertainty_.sectors;
    if (chance(rng, keep_new)) size = new_bytes.size();
  }
  Bytes result(size);
  auto sector_of = [](const Bytes& bytes, std::size_t from, std::size_t to) {
    Bytes sector(to - from);
    if (from < bytes.size()) {
      std::copy(bytes.begin() + static_cast<std::ptrdiff_t>(from),
                bytes.begin() + static_cast<std::ptrdiff_t>(std::min(to, bytes.size())), sector.begin());
    }
    return sector;
  };
  for (std::size_t from = 0; from < size; from += kSectorBytes) {
    const std::size_t to = std::min(size, from + kSectorBytes);
    const Bytes old_sector = sector_of(old_bytes, from, to);
    const Bytes new_sector = sector_of(new_bytes, from, to);
    const bool take_new = old_sector != new_sector && (++uncertainty_.sectors, chance(rng, keep_new));
    const Bytes& chosen = take_new ? new_sector : old_sector;
    std::copy(chosen.begin(), chosen.end(), result.begin() + static_cast<std::ptrdiff_t>(from));
  }
  return result;
}

DiskModel::Kept DiskModel::write_crash_state(std::mt19937_64& rng, const fs::path& target) {
  // A quarter of the states keep nothing unflushed, a quarter everything, the rest a random share of the
  // uncertain sectors and name changes.
  const uint64_t shape = rng() % 4;
  const Kept kept = shape == 0 ? Kept::nothing_unflushed : shape == 1 ? Kept::everything : Kept::some;
  const double keep_new = kept == Kept::nothing_unflushed ? 0.0
                          : kept == Kept::everything      ? 1.0
                                                          : static_cast<double>(rng() % 1001) / 1000;
  write_state(target, keep_new, rng);
  return kept;
}

void DiskModel::write_flushed_state(const fs::path& target) {
  std::mt19937_64 unused;
  write_state(target, 0.0, unused);
}

// Keeps each uncertain name change and sector with probability `keep_new`.
void DiskModel::write_state(const fs::path& target, double keep_new, std::mt19937_64& rng) {
  const std::map<fs::path, Names> now = scan();
  uncertainty_ = {};
  for (const fs::path& dir : directories()) {
    const fs::path target_dir = target / dir.lexically_relative(root_);
    fs::create_directories(target_dir);
    fs::permissions(target_dir, fs::perms::owner_all);
    const Names& durable = durable_names_[dir];
    const Names& current = now.at(dir);

    std::vector<std::string> names;
    for (const auto& [name, id] : durable) names.push_back(name);
    for (const auto& [name, id] : current) {
      if (!durable.contains(name)) names.push_back(name);
    }
    NameGroups groups;
    std::map<FileId, std::size_t> first_name_of;
    for (std::size_t i = 0; i < names.size(); ++i) {
      groups.add();
      for (const Names* side : {&durable, &current}) {
        const auto it = side->find(names[i]);
        if (it == side->end()) continue;
        const auto [known, fresh] = first_name_of.emplace(it->second, i);
        if (!fresh) groups.join(i, known->second);
      }
    }
    std::map<std::size_t, bool> group_takes_new;
    for (std::size_t i = 0; i < names.size(); ++i) {
      const auto in_durable = durable.find(names[i]);
      const auto in_current = current.find(names[i]);
      const bool same = (in_durable == durable.end()) == (in_current == current.end()) &&
                        (in_durable == durable.end() || in_durable->second == in_current->second);
      if (!same) group_takes_new.emplace(groups.find(i), false);
    }
    for (auto& [group, takes_new] : group_takes_new) {
      ++uncertainty_.name_groups;
      takes_new = chance(rng, keep_new);
    }
    for (std::size_t i = 0; i < names.size(); ++i) {
      const auto decided = group_takes_new.find(groups.find(i));
      const Names& side = decided != group_takes_new.end() && decided->second ? current : durable;
      const auto it = side.find(names[i]);
      if (it != side.end()) write_file(target_dir / names[i], crash_bytes(it->second, rng, keep_new));
    }
  }
}

}  // namespace shmraft::storage::testing
