#include "launcher/cluster_dirs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "launcher/launcher_error.h"

namespace shmraft::launcher {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStampFile = "cluster-id";

void write_file_atomically(const fs::path& path, const std::string& text) {
  const fs::path temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw LauncherError("cannot write " + temporary.string() + ": " + std::strerror(errno));
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced || ::rename(temporary.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temporary.c_str());
    throw LauncherError("cannot write " + path.string() + ": " + std::strerror(saved));
  }
}

}  // namespace

ClusterDirs::ClusterDirs(std::string cluster, fs::path root)
    : cluster_(std::move(cluster)),
      root_(root.empty() ? fs::path(kDefaultDataBase) / cluster_ : std::move(root)) {}

fs::path ClusterDirs::node_dir(uint32_t node) const {
  return root_ / ("node" + std::to_string(node));
}

fs::path ClusterDirs::node_output(uint32_t node) const {
  return root_ / ("node" + std::to_string(node) + ".out");
}

std::optional<ClusterStamp> ClusterDirs::read_stamp(uint32_t node) const {
  const fs::path path = node_dir(node) / kStampFile;
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  std::ifstream in(path);
  std::string name, hex, extra;
  if (!in || !(in >> name >> hex) || (in >> extra)) {
    throw LauncherError(path.string() + " is not a cluster stamp (expected \"<cluster> <32 hex digits>\")");
  }
  const auto id = ipc::ClusterId::from_hex(hex);
  if (!id) throw LauncherError(path.string() + ": malformed cluster id '" + hex + "'");
  return ClusterStamp{name, *id};
}

std::optional<ipc::ClusterId> ClusterDirs::stamped_identity(uint32_t nodes) const {
  std::optional<ClusterStamp> first;
  uint32_t first_node = 0;
  for (uint32_t node = 0; node < nodes; ++node) {
    const auto stamp = read_stamp(node);
    if (!stamp) continue;
    if (stamp->cluster != cluster_) {
      throw LauncherError("data directory " + node_dir(node).string() + " belongs to cluster '" +
                          stamp->cluster + "' (id " + stamp->id.to_hex() + "), not '" + cluster_ + "'");
    }
    if (first && !(first->id == stamp->id)) {
      throw LauncherError("data directories " + node_dir(first_node).string() + " and " +
                          node_dir(node).string() + " belong to different clusters (ids " +
                          first->id.to_hex() + " and " + stamp->id.to_hex() + ")");
    }
    if (!first) {
      first = stamp;
      first_node = node;
    }
  }
  if (!first) return std::nullopt;
  return first->id;
}

void ClusterDirs::stamp(uint32_t nodes, const ipc::ClusterId& id) const {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) throw LauncherError("cannot create " + root_.string() + ": " + ec.message());
  for (uint32_t node = 0; node < nodes; ++node) {
    const fs::path dir = node_dir(node);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      throw LauncherError("cannot create " + dir.string() + ": " + std::strerror(errno));
    }
    if (read_stamp(node)) continue;
    write_file_atomically(dir / kStampFile, cluster_ + " " + id.to_hex() + "\n");
  }
}

}  // namespace shmraft::launcher
