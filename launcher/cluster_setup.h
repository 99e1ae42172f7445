#pragma once
// Everything `up` and `chaos` do before the first node starts: check that the data directories belong to
// this cluster, that no segment of the same name is in use (or belongs to another cluster), create the
// segment and stamp the directories. Each refusal is a LauncherError that names what is in the way, and
// nothing that exists is changed by a refusal.
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include "ipc/segment.h"
#include "launcher/cluster_configuration.h"
#include "launcher/cluster_dirs.h"

namespace shmraft::launcher {

struct CreatedCluster {
  ipc::Segment segment;
  ClusterDirs dirs;
  ipc::ClusterId id;  // the identity stamped on the data directories
  ClusterPlan plan;   // the nodes to start (stamped already), and their voters
};

// Decides the segment and the nodes from the checked data root and the identity stamped in it (nullopt:
// a new cluster); called once the segment's name is known to be free or stale, before anything changes.
using PlanCluster =
    std::function<ClusterPlan(const ClusterDirs& dirs, const std::optional<ipc::ClusterId>& stamped)>;

// `data_root` empty: the default root for `cluster`. Progress lines (the segment's size, a stale segment
// of this same cluster being replaced) go to `log`. A new cluster records its initial voters in the root.
CreatedCluster create_cluster(const std::string& cluster, const std::filesystem::path& data_root,
                              const PlanCluster& plan, std::ostream& log);
// The same with the segment `config` and nodes 1..config.node_count, whatever ran before.
CreatedCluster create_cluster(const std::string& cluster, const std::filesystem::path& data_root,
                              const ipc::SegmentConfig& config, std::ostream& log);

// A cluster name for a run that names its own cluster: "<prefix>-<pid>-<n>", the first n for which
// neither the segment nor `data_base`/name exists. A process that died earlier with the same pid may have
// left either behind (SIGKILL, a reused CI host); what it left is not ours to remove.
std::string unused_cluster_name(const std::string& prefix, const std::filesystem::path& data_base);

}  // namespace shmraft::launcher
