#pragma once
// Where a cluster keeps its files, and the stamp that ties a data directory to one cluster.
//
//   <root>/                     default /tmp/shmraft/<cluster>, or --data-dir
//   <root>/node<i>/cluster-id   "<cluster name> <32 hex digits of the cluster id>\n"
//   <root>/node<i>/...          the node's own files (storage, log)
//   <root>/node<i>.out          the node process's stdout/stderr (crash messages land here)
//
// The stamp is written before a node first starts and checked before every start, so a node is never
// pointed at the data of another cluster — whose log it would otherwise happily extend.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "ipc/layout.h"

namespace shmraft::launcher {

inline constexpr const char* kDefaultDataBase = "/tmp/shmraft";

struct ClusterStamp {
  std::string cluster;
  ipc::ClusterId id;
  friend bool operator==(const ClusterStamp&, const ClusterStamp&) = default;
};

class ClusterDirs {
 public:
  // `root` empty: kDefaultDataBase/<cluster>.
  ClusterDirs(std::string cluster, std::filesystem::path root);

  const std::string& cluster() const noexcept { return cluster_; }
  const std::filesystem::path& root() const noexcept { return root_; }
  std::filesystem::path node_dir(uint32_t node) const;
  std::filesystem::path node_output(uint32_t node) const;

  // The stamp of node `node`'s directory; nullopt if the directory or its stamp does not exist yet.
  // Throws LauncherError for an unreadable or malformed stamp.
  std::optional<ClusterStamp> read_stamp(uint32_t node) const;

  // The identity the data of nodes [0, nodes) were written under: nullopt if none is stamped yet.
  // Throws LauncherError when a stamp names another cluster or two stamps disagree.
  std::optional<ipc::ClusterId> stamped_identity(uint32_t nodes) const;

  // Creates the node directories (mode 0700) and stamps every one that has no stamp yet (atomically:
  // temporary file + rename).
  void stamp(uint32_t nodes, const ipc::ClusterId& id) const;

 private:
  std::string cluster_;
  std::filesystem::path root_;
};

}  // namespace shmraft::launcher
