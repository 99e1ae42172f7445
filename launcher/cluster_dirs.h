#pragma once
// Where a cluster keeps its files, and the stamp that ties a data directory to one cluster.
//
//   <root>/                     default <default_data_base()>/<cluster>, or --data-dir
//   <root>/node<i>/cluster-id   "<cluster name> <32 hex digits of the cluster id>\n"
//   <root>/node<i>/...          the node's own files (storage, log)
//   <root>/node<i>.out          the node process's stdout/stderr (crash messages land here)
//   <root>/initial-voters       "<32 hex digits of the cluster id> <n>\n": the cluster began with voters 1..n
// where i is the node id, 1..N (node1, node2, ...), and above N for nodes that joined later.
//
// The initial voters are the configuration every node's log continues (a node rebuilds its membership
// from them, its snapshot and the changes in its log), so a cluster started again must get the same n:
// `shmraft up` reads it back (cluster_configuration.h).
//
// The stamp is written before a node first starts and checked before every start, so a node is never
// pointed at the data of another cluster — whose log it would otherwise happily extend. For the same
// reason a root inside a node directory, or holding one of another cluster, is refused. Every directory
// is reached and created through PrivateDir (private_dir.h): 0700, ours, no symlink followed.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/layout.h"

namespace shmraft::launcher {

// Where clusters keep their data unless told otherwise: private to the user and on a real disk (fsync
// figures must hit the disk users mean, so neither /tmp, shared by every user, nor $XDG_RUNTIME_DIR, a
// tmpfs). $XDG_STATE_HOME/shmraft if that is an absolute path, else $HOME/.local/state/shmraft (the
// password database's home when $HOME is unset); for root /var/lib/shmraft, which no inherited $HOME
// (sudo -E) can redirect into a user's directory. Computed, not created: PrivateDir::open does that.
std::filesystem::path default_data_base();
// The same, for code that still names the constant (launcher/bench).

struct ClusterStamp {
  std::string cluster;
  ipc::ClusterId id;
  friend bool operator==(const ClusterStamp&, const ClusterStamp&) = default;
};

class ClusterDirs {
 public:
  // `root` empty: default_data_base()/<cluster>.
  ClusterDirs(std::string cluster, std::filesystem::path root);

  const std::string& cluster() const noexcept { return cluster_; }
  const std::filesystem::path& root() const noexcept { return root_; }
  std::filesystem::path node_dir(uint32_t node) const;
  std::filesystem::path node_output(uint32_t node) const;

  // The stamp of node `node`'s directory; nullopt if the directory or its stamp does not exist yet.
  // Throws LauncherError for an unreadable or malformed stamp.
  std::optional<ClusterStamp> read_stamp(uint32_t node) const;

  // The identity the node directories were written under (every node<i>, i in 1..ipc::kMaxNodes): nullopt
  // if none is stamped yet. Throws LauncherError when a stamp names another cluster or two stamps disagree.
  std::optional<ipc::ClusterId> stamped_identity() const;
  // The ids whose directories carry a stamp, ascending.
  std::vector<uint32_t> stamped_nodes() const;

  // The n of the initial voters 1..n recorded for the cluster `id`; nullopt if none is recorded (a root
  // written by an older build). Throws LauncherError for a malformed record or one of another cluster id.
  std::optional<uint32_t> initial_voters(const ipc::ClusterId& id) const;
  // Records them (atomically, 0600), creating the root if needed.
  void record_initial_voters(uint32_t n, const ipc::ClusterId& id) const;

  // Checks the root, if it exists, before anything in it is read: private (see PrivateDir), not inside a
  // node directory of any cluster, not holding a node directory other than this cluster's own node<i>,
  // nor a node0 left by a build that numbered nodes from 0. Throws LauncherError naming what is in the way.
  void check_root() const;

  // Creates the root and the node directories (0700, checked: see PrivateDir) and stamps every one that
  // has no stamp yet (atomically: temporary file + rename).
  void stamp(uint32_t nodes, const ipc::ClusterId& id) const;
  // The same for node `node` alone (a node joining a running cluster).
  void stamp_node(uint32_t node, const ipc::ClusterId& id) const;

 private:
  std::string cluster_;
  std::filesystem::path root_;
};

}  // namespace shmraft::launcher
