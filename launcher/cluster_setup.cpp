#include "launcher/cluster_setup.h"

#include <unistd.h>

#include <atomic>

#include "launcher/launcher_error.h"

namespace shmraft::launcher {

namespace {

std::string shm_path(const std::string& cluster) {
  return "/dev/shm/" + ipc::Segment::object_name(cluster);
}

// Whether a segment of this name may be made: refuses when the name is taken by anything but a stale
// segment of this very cluster, which a crashed supervisor left behind; returns true for that one, which
// must then be removed.
bool stale_segment_of_ours(const std::string& cluster, const std::optional<ipc::ClusterId>& ours) {
  const ipc::SegmentStatus status = ipc::Segment::inspect(cluster);
  if (status.state == ipc::SegmentState::missing) return false;
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
  return true;
}

}  // namespace

CreatedCluster create_cluster(const std::string& cluster, const std::filesystem::path& data_root,
                              const PlanCluster& plan_cluster, std::ostream& log) {
  ClusterDirs dirs(cluster, data_root);
  dirs.check_root();
  const std::optional<ipc::ClusterId> stamped = dirs.stamped_identity();
  const bool stale = stale_segment_of_ours(cluster, stamped);
  const ClusterPlan plan = plan_cluster(dirs, stamped);
  try {
    plan.segment.validate();
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (stale) {
    ipc::Segment::destroy(cluster);
    log << "removed the stale segment " << shm_path(cluster) << " left by a previous run of this cluster\n";
  }
  const ipc::ClusterId id = stamped ? *stamped : ipc::ClusterId::random();
  if (!stamped) dirs.record_initial_voters(plan.segment.node_count, id);
  for (const uint32_t node : plan.nodes.ids()) dirs.stamp_node(node, id);
  try {
    ipc::Segment segment = ipc::Segment::create(cluster, plan.segment, id);
    log << "segment " << shm_path(cluster) << ": " << segment.size() << " bytes (" << plan.segment.node_count
        << " initial voters, room for " << segment.max_nodes() << " nodes, " << plan.segment.client_slots
        << " client slots), cluster id " << segment.cluster_id().to_hex() << "\n";
    return CreatedCluster{std::move(segment), std::move(dirs), id, plan};
  } catch (const ipc::SegmentError& e) {
    throw LauncherError(e.what());
  }
}

CreatedCluster create_cluster(const std::string& cluster, const std::filesystem::path& data_root,
                              const ipc::SegmentConfig& config, std::ostream& log) {
  try {
    config.validate();
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  raft::NodeSet nodes;
  for (uint32_t node = 1; node <= config.node_count; ++node) nodes.insert(node);
  return create_cluster(
      cluster, data_root,
      [&](const ClusterDirs&, const std::optional<ipc::ClusterId>&) {
        return ClusterPlan{config, nodes, nodes, {}};
      },
      log);
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
