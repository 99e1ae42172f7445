#include "launcher/cluster_dirs.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "launcher/launcher_error.h"
#include "launcher/private_dir.h"

namespace shmraft::launcher {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStampFile = "cluster-id";
constexpr const char* kInitialVotersFile = "initial-voters";

// How deep below a data root check_placement() looks for node directories: deep enough for a root that
// holds cluster roots (the default base) or a directory of those.
constexpr int kPlacementDepth = 3;

void write_file_atomically(const PrivateDir& dir, const std::string& name, const std::string& text) {
  const std::string temporary = name + ".tmp";
  const int fd = dir.open_file(temporary, O_WRONLY | O_TRUNC);
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced || ::renameat(dir.fd(), temporary.c_str(), dir.fd(), name.c_str()) != 0) {
    const int saved = errno;
    ::unlinkat(dir.fd(), temporary.c_str(), 0);
    throw LauncherError("cannot write " + (dir.path() / name).string() + ": " + std::strerror(saved));
  }
}

bool is_stamp(const fs::path& path) {
  std::error_code ec;
  return fs::symlink_status(path, ec).type() == fs::file_type::regular;
}

std::string stamped_name(const fs::path& stamp) {
  std::ifstream in(stamp);
  std::string name;
  return in >> name ? name : std::string("?");
}

fs::path home_directory() {
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/') return home;
  if (const passwd* entry = ::getpwuid(::geteuid()); entry != nullptr && entry->pw_dir != nullptr)
    return entry->pw_dir;
  throw LauncherError("no home directory (HOME unset, no passwd entry): give --data-dir");
}

}  // namespace

fs::path default_data_base() {
  if (::geteuid() == 0) return "/var/lib/shmraft";
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && state[0] == '/')
    return fs::path(state) / "shmraft";
  return home_directory() / ".local" / "state" / "shmraft";
}

ClusterDirs::ClusterDirs(std::string cluster, fs::path root)
    : cluster_(std::move(cluster)),
      root_(
          fs::absolute(root.empty() ? default_data_base() / cluster_ : std::move(root)).lexically_normal()) {
  if (!root_.has_filename()) root_ = root_.parent_path();  // "/a/b/" -> "/a/b"
}

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

std::optional<ipc::ClusterId> ClusterDirs::stamped_identity() const {
  std::optional<ClusterStamp> first;
  uint32_t first_node = 0;
  for (uint32_t node = 1; node <= ipc::kMaxNodes; ++node) {
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

std::vector<uint32_t> ClusterDirs::stamped_nodes() const {
  std::vector<uint32_t> nodes;
  for (uint32_t node = 1; node <= ipc::kMaxNodes; ++node) {
    if (read_stamp(node)) nodes.push_back(node);
  }
  return nodes;
}

std::optional<uint32_t> ClusterDirs::initial_voters(const ipc::ClusterId& id) const {
  const fs::path path = root_ / kInitialVotersFile;
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  std::ifstream in(path);
  std::string hex, extra;
  uint32_t n = 0;
  if (!in || !(in >> hex >> n) || (in >> extra) || n < 1 || n > ipc::kMaxNodes) {
    throw LauncherError(path.string() +
                        " is not a record of the initial voters (expected \"<32 hex digits> " + "<1.." +
                        std::to_string(ipc::kMaxNodes) + ">\")");
  }
  const auto recorded = ipc::ClusterId::from_hex(hex);
  if (!recorded || !(*recorded == id)) {
    throw LauncherError(path.string() + " was written for cluster id " + hex +
                        ", but the node directories are " + "stamped " + id.to_hex());
  }
  return n;
}

void ClusterDirs::record_initial_voters(uint32_t n, const ipc::ClusterId& id) const {
  write_file_atomically(PrivateDir::open(root_), kInitialVotersFile,
                        id.to_hex() + " " + std::to_string(n) + "\n");
}

void ClusterDirs::check_root() const {
  for (fs::path dir = root_;; dir = dir.parent_path()) {
    if (is_stamp(dir / kStampFile)) {
      throw LauncherError("data directory " + root_.string() + " lies inside " + dir.string() +
                          ", a node directory of cluster '" + stamped_name(dir / kStampFile) + "'; refused");
    }
    if (dir == dir.parent_path()) break;
  }
  std::error_code ec;
  fs::recursive_directory_iterator it(root_, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path& path = it->path();
    if (path.filename() == kStampFile && is_stamp(path)) {
      const fs::path dir = path.parent_path();
      const std::string name = dir.filename().string();
      const bool own_node = dir.parent_path() == root_ && name.size() > 4 && name.rfind("node", 0) == 0 &&
                            name.find_first_not_of("0123456789", 4) == std::string::npos &&
                            stamped_name(path) == cluster_;
      if (!own_node) {
        throw LauncherError("data directory " + root_.string() + " holds " + dir.string() +
                            ", a node directory of cluster '" + stamped_name(path) + "'; refused");
      }
      if (name == "node0") {
        throw LauncherError("data directory " + root_.string() +
                            " holds node0, written by a shmraft that numbered nodes from 0; nodes are now "
                            "node1..nodeN (the same Raft ids): rename each node<i> to node<i+1>, highest "
                            "first, or remove the directory");
      }
    }
    if (it.depth() >= kPlacementDepth) it.disable_recursion_pending();
  }
  // Not created here: a refusal that follows (a segment in the way) must leave nothing behind.
  if (fs::symlink_status(root_, ec).type() != fs::file_type::not_found) PrivateDir::open(root_);
}

void ClusterDirs::stamp(uint32_t nodes, const ipc::ClusterId& id) const {
  for (uint32_t node = 1; node <= nodes; ++node) stamp_node(node, id);
}

void ClusterDirs::stamp_node(uint32_t node, const ipc::ClusterId& id) const {
  const PrivateDir dir = PrivateDir::open(root_).subdir(node_dir(node).filename().string());
  if (read_stamp(node)) return;
  write_file_atomically(dir, kStampFile, cluster_ + " " + id.to_hex() + "\n");
}

}  // namespace shmraft::launcher
