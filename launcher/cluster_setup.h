#pragma once
// Everything `up` and `chaos` do before the first node starts: check that the data directories belong to
// this cluster, that no segment of the same name is in use (or belongs to another cluster), create the
// segment and stamp the directories. Each refusal is a LauncherError that names what is in the way, and
// nothing that exists is changed by a refusal.
#include <filesystem>
#include <ostream>
#include <string>

#include "ipc/segment.h"
#include "launcher/cluster_dirs.h"

namespace shmraft::launcher {

struct CreatedCluster {
  ipc::Segment segment;
  ClusterDirs dirs;
  ipc::ClusterId id;  // the identity stamped on the data directories
};

// `data_root` empty: the default root for `cluster`. Progress lines (the segment's size, a stale segment
// of this same cluster being replaced) go to `log`.
CreatedCluster create_cluster(const std::string& cluster, const std::filesystem::path& data_root,
                              const ipc::SegmentConfig& config, std::ostream& log);

// A cluster name for a run that names its own cluster: "<prefix>-<pid>-<n>", the first n for which
// neither the segment nor `data_base`/name exists. A process that died earlier with the same pid may have
// left either behind (SIGKILL, a reused CI host); what it left is not ours to remove.
std::string unused_cluster_name(const std::string& prefix, const std::filesystem::path& data_base);

}  // namespace shmraft::launcher
