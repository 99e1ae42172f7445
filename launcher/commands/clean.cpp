// `shmraft clean`: removes what dead clusters left behind — stale segments, and the data directories of
// clusters that are not running. A live cluster (any process named in its segment alive) is never
// touched, nor is anything that does not carry shmraft's marks (a foreign /dev/shm object, a directory
// without cluster stamps).
#include <filesystem>
#include <iostream>
#include <memory>

#include "ipc/segment.h"
#include "launcher/cli_options.h"
#include "launcher/cluster_dirs.h"
#include "launcher/commands/command.h"
#include "launcher/launcher_error.h"

namespace shmraft::launcher {

namespace {

namespace fs = std::filesystem;

struct CleanOptions {
  std::string cluster;  // empty: every cluster
  std::string data_dir;
  bool keep_data = false;
  bool dry_run = false;
};

// The cluster a data root belongs to, from the stamps of its node directories; empty if none.
std::string stamped_cluster(const fs::path& root) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name.rfind("node", 0) != 0) continue;
    const auto id = name.substr(4);
    if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) continue;
    try {
      if (const auto stamp = ClusterDirs("", root).read_stamp(static_cast<uint32_t>(std::stoul(id)))) {
        return stamp->cluster;
      }
    } catch (const std::exception&) {
      // A malformed stamp: not recognisably ours.
    }
  }
  return {};
}

bool clean_segment(const std::string& cluster, const CleanOptions& options) {
  const ipc::SegmentStatus status = ipc::Segment::inspect(cluster);
  const std::string path = "/dev/shm/" + ipc::Segment::object_name(cluster);
  switch (status.state) {
    case ipc::SegmentState::missing:
      return false;
    case ipc::SegmentState::live:
      std::cout << "kept " << path << ": cluster '" << cluster << "' is live (" << status.detail << ")\n";
      return false;
    case ipc::SegmentState::incompatible:
      std::cout << "kept " << path << ": not a segment of this shmraft (" << status.detail << ")\n";
      return false;
    case ipc::SegmentState::stale:
      break;
  }
  if (!options.dry_run && !ipc::Segment::remove_if_stale(cluster)) return false;
  std::cout << (options.dry_run ? "would remove " : "removed ") << path << " (" << status.detail << ")\n";
  return true;
}

bool clean_data(const fs::path& root, const CleanOptions& options) {
  const std::string cluster = stamped_cluster(root);
  if (cluster.empty()) {
    if (!options.data_dir.empty()) std::cout << "kept " << root.string() << ": no cluster stamps in it\n";
    return false;
  }
  if (!options.cluster.empty() && cluster != options.cluster) return false;
  if (ipc::Segment::inspect(cluster).state == ipc::SegmentState::live) {
    std::cout << "kept " << root.string() << ": cluster '" << cluster << "' is live\n";
    return false;
  }
  std::error_code ec;
  if (!options.dry_run) fs::remove_all(root, ec);
  if (ec) throw LauncherError("cannot remove " + root.string() + ": " + ec.message());
  std::cout << (options.dry_run ? "would remove " : "removed ") << root.string() << " (data of cluster '"
            << cluster << "')\n";
  return true;
}

int run_clean(const CleanOptions& options) {
  int removed = 0;
  const std::vector<std::string> clusters =
      options.cluster.empty() ? ipc::Segment::list_clusters() : std::vector<std::string>{options.cluster};
  for (const std::string& cluster : clusters) removed += clean_segment(cluster, options);
  if (!options.keep_data) {
    if (!options.data_dir.empty()) {
      removed += clean_data(options.data_dir, options);
    } else {
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(default_data_base(), ec)) {
        if (entry.is_directory()) removed += clean_data(entry.path(), options);
      }
    }
  }
  if (removed == 0) std::cout << "nothing to clean\n";
  return 0;
}

}  // namespace

void add_clean_command(CLI::App& root, CommandList& commands) {
  auto options = std::make_shared<CleanOptions>();
  CLI::App* app = root.add_subcommand(
      "clean", "Remove stale segments and the data of clusters that are not running (never a live one)");
  app->add_option("-c,--cluster", options->cluster, "Only this cluster (default: every cluster)")
      ->check(cluster_name_validator());
  app->add_option("-d,--data-dir", options->data_dir,
                  "Clean this data root instead of the ones under " + default_data_base().string());
  app->add_flag("--keep-data", options->keep_data, "Remove stale segments only");
  app->add_flag("--dry-run", options->dry_run, "Only print what would be removed");
  commands.push_back({app, [options] { return run_clean(*options); }});
}

}  // namespace shmraft::launcher
