#include "launcher/cluster_setup.h"

#include <unistd.h>

#include <atomic>

#include "launcher/launcher_error.h"

namespace shmraft::launcher {

namespace {

std::string shm_path(const std::string& cluster) {
  return "/dev/shm/" + ipc::Segment::object_name(cluster);
}

// Makes way for a new segment: refuses when the name is taken by anything but a stale segment of this
// very cluster, which a crashed supervisor left behind and which is replaced.
void clear_segment_name(const std::string& cluster, const std::optional<ipc::ClusterId>& ours,
                        std::ostream& log) {
  const ipc::SegmentStatus status = ipc::Segment::inspect(cluster);
  if (status.state == ipc::SegmentState::missing) return;
  if (status.state == ipc::SegmentState::incompatible) {
    throw LauncherError(shm_path(cluster) + " exists and is not a segment this shmraft can use (" +
                        status.detail + "); remove it or pick another --cluster name");
  }
  std::optional<ipc::ClusterId> theirs;
  try {
    theirs = ipc::Segment::attach(cluster).cluster_id();
  } catch (const ipc::SegmentError&) {
    // Still being created by a live process, or torn: treated as foreign below.
  }
  const bool same_cluster = ours && theirs && *ours == *theirs;
  if (status.state == ipc::SegmentState::live) {
    if (same_cluster) {
      throw LauncherError("cluster '" + cluster + "' is already running (supervisor pid " +
                          std::to_string(status.creator_pid) + "); `shmraft down -c " + cluster +
                          "` stops it");
    }
    throw LauncherError("segment " + shm_path(cluster) + " belongs to another running cluster (id " +
                        (theirs ? theirs->to_hex() : std::string("unknown")) + ", supervisor pid " +
                        std::to_string(status.creator_pid) + "); pick another --cluster name");
  }
  if (!same_cluster) {
    throw LauncherError("stale segment " + shm_path(cluster) + " of another cluster (id " +
                        (theirs ? theirs->to_hex() : std::string("unknown")) +
                        ") is in the way; `shmraft clean` removes it");
  }
  ipc::Segment::destroy(cluster);
  log << "removed the stale segment " << shm_path(cluster) << " left by a previous run of this cluster\n";
}

}  // namespace

CreatedCluster create_cluster(const std::string& cluster, const std::filesystem::path& data_root,
                              const ipc::SegmentConfig& config, std::ostream& log) {
  try {
    config.validate();
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  ClusterDirs dirs(cluster, data_root);
  dirs.check_root();
  const std::optional<ipc::ClusterId> stamped = dirs.stamped_identity(config.node_count);
  clear_segment_name(cluster, stamped, log);
  const ipc::ClusterId id = stamped ? *stamped : ipc::ClusterId::random();
  dirs.stamp(config.node_count, id);
  try {
    ipc::Segment segment = ipc::Segment::create(cluster, config, id);
    log << "segment " << shm_path(cluster) << ": " << segment.size() << " bytes (" << config.node_count
        << " nodes, " << config.client_slots << " client slots), cluster id " << segment.cluster_id().to_hex()
        << "\n";
    return CreatedCluster{std::move(segment), std::move(dirs), id};
  } catch (const ipc::SegmentError& e) {
    throw LauncherError(e.what());
  }
}

std::string unused_cluster_name(const std::string& prefix, const std::filesystem::path& data_base) {
  static std::atomic<uint32_t> counter{0};
  for (;;) {
    std::string name = prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    std::error_code ignored;
    if (ipc::Segment::inspect(name).state == ipc::SegmentState::missing &&
        !std::filesystem::exists(data_base / name, ignored))
      return name;
  }
}

}  // namespace shmraft::launcher
