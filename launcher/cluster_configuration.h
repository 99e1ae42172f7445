#pragma once
// Which nodes `shmraft up` starts for a cluster that ran before: the members of the configuration held by
// the most up-to-date log among its node directories — as `shmraft member` left it, not the initial
// voters 1..n.
//
// A node rebuilds its configuration at start from the initial voters, its snapshot's configuration and
// every change its log holds after the snapshot (node/raft/core.cpp). This reads the same files the same
// way, but only reads: it writes nothing, takes no lock and repairs nothing (recovery's zeroing of a torn
// tail or of a damaged hard-state slot would hide damage the node must see to start lost, issue 14). A
// directory it cannot read (damaged, a newer format) is skipped with a note; its node, if a member,
// starts and sorts itself out.
//
// Why the most up-to-date log (highest last term, then last index): it holds every committed entry
// (the argument of Raft's Leader Completeness: a log whose last term is at least that of an entry's
// majority holds that entry), so its configuration is the latest committed one or, one change at a
// time, the change right after it that a leader elected from it would hold. Only liveness rests on the
// choice: each node still takes its configuration from its own log, and terms, votes and quorums decide
// the rest. A wrong choice can cost a missing voter, never a committed entry.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ipc/layout.h"
#include "launcher/cluster_dirs.h"
#include "launcher/launcher_error.h"
#include "node/raft/conf_change.h"
#include "node/raft/conf_state.h"
#include "node/raft/types.h"
#include "node/storage/format.h"
#include "node/storage/segment.h"
#include "node/storage/snapshot_file.h"

namespace shmraft::launcher {

// What one node directory's files say, read as the node would read them at start.
struct NodeLogSummary {
  uint64_t last_term = 0;  // of its last entry, or of its snapshot when the log holds nothing after it
  uint64_t last_index = 0;
  raft::ConfState conf;     // in force at last_index
  uint32_t highest_id = 0;  // the largest node id its snapshot's configuration or a replayed change names
};

// Reads `dir` (a node directory; missing or empty: nothing stored) without changing it. `bootstrap` is
// the configuration a log without a snapshot continues (voters 1..n). Throws std::runtime_error naming
// the file when the directory cannot be read as a node's storage.
inline NodeLogSummary summarize_node_log(const std::filesystem::path& dir, const raft::ConfState& bootstrap);

// The members a configuration keeps running: voters, learners, and a voter in the middle of its repair
// (removed, to be added back: core.h, "Lost state"), without which the repair could not finish.
inline raft::NodeSet members_of(const raft::ConfState& conf);

// The configuration of a cluster's most up-to-date log.
struct StoredConfiguration {
  raft::ConfState conf;
  std::optional<uint32_t> from_node;  // whose log; nullopt: no log holds an entry (the initial voters)
  uint64_t last_term = 0;
  uint64_t last_index = 0;
  uint32_t highest_id = 0;         // over every log read: the segment must have room for it
  std::vector<std::string> notes;  // a line per directory that could not be read
};

// Over the directories of `nodes` (ids), with the initial voters 1..initial_voters.
inline StoredConfiguration stored_configuration(const ClusterDirs& dirs, const std::vector<uint32_t>& nodes,
                                                uint32_t initial_voters);

// What `shmraft up` asked for, and which of it was given on the command line.
struct UpRequest {
  ipc::SegmentConfig segment;
  bool nodes_given = false;      // -n/--nodes
  bool max_nodes_given = false;  // --max-nodes
};

// The segment to create and the nodes to start.
struct ClusterPlan {
  ipc::SegmentConfig segment;  // node_count: the initial voters
  raft::NodeSet voters;        // of the configuration the nodes start in
  raft::NodeSet nodes;         // to stamp and start
  // Members of a configuration some log holds: each ran before, so one that starts without its files
  // lost them (a directory wiped while the cluster was down) and must start lost, never fresh.
  raft::NodeSet ran_before;
};

// A new cluster (`stamped` nullopt): the request as given, nodes 1..n. A cluster that ran before: its
// recorded initial voters (a -n that differs is a UsageError; a root without the record, written by an
// older build, takes -n for them), the members of its stored configuration, and room for every id its
// logs name (an explicit --max-nodes below that is a UsageError). What it found goes to `log`.
inline ClusterPlan plan_up(const ClusterDirs& dirs, const std::optional<ipc::ClusterId>& stamped,
                           const UpRequest& request, std::ostream& log);

// ---- implementation (header-only: the launcher's source list is not this helper's to change) ----

namespace conf_detail {

using storage::format::RecordHeader;

inline uint32_t highest_id_of(const raft::ConfState& conf) {
  return std::max({conf.voters.max_id(), conf.learners.max_id(), conf.repairing});
}

inline raft::ConfState bootstrap_voters(uint32_t n) {
  raft::ConfState conf;
  for (uint32_t node = 1; node <= n; ++node) conf.voters.insert(node);
  return conf;
}

inline std::string ids(raft::NodeSet set) {
  return set.empty() ? "none" : fmt::format("{}", fmt::join(set.ids(), ","));
}

// The log as its records say, read the way recovery scans it (node/storage/recovery.cpp) but stopping at
// the first record that is not good instead of judging it: segments in order of their first index, each
// continuing the one before, records with the next index, a length that fits, a CRC that holds and a term
// that does not fall. Only configuration changes are kept (they are rare).
struct LogScan {
  uint64_t first_index = 0;  // 0: no record
  uint64_t last_index = 0;
  uint64_t last_term = 0;
  std::map<uint64_t, uint64_t> terms_at;  // of the indexes asked for
  std::vector<std::pair<uint64_t, std::vector<std::byte>>> changes;
};

inline LogScan scan_log(const std::filesystem::path& log_dir, uint64_t term_wanted_at) {
  std::map<uint64_t, std::filesystem::path> segments;  // by first index
  std::error_code ec;
  for (const std::filesystem::directory_entry& entry : std::filesystem::directory_iterator(log_dir, ec)) {
    if (const auto first = storage::format::parse_segment_file_name(entry.path().filename().string()))
      segments.emplace(*first, entry.path());
  }
  LogScan scan;
  uint64_t next = 0;
  for (const auto& [first, path] : segments) {
    if (next != 0 && first != next) break;  // a hole: the log ends before it
    const storage::Segment segment = storage::Segment::open_existing(path, first);
    const std::span<const std::byte> bytes = segment.bytes();
    std::size_t offset = sizeof(storage::format::SegmentHeader);
    uint64_t index = first;
    for (; bytes.size() - offset >= sizeof(RecordHeader); ++index) {
      RecordHeader header;
      std::memcpy(&header, bytes.data() + offset, sizeof header);
      const std::size_t room = bytes.size() - offset;
      if (header.index != index || storage::format::record_bytes(header.length) > room) break;
      const std::span<const std::byte> payload = bytes.subspan(offset + sizeof header, header.length);
      if (header.crc != storage::format::record_crc(header, payload) || header.term < scan.last_term) break;
      if (scan.first_index == 0) scan.first_index = index;
      if (index == term_wanted_at) scan.terms_at[index] = header.term;
      if (header.type == static_cast<uint8_t>(raft::EntryType::kConfChange))
        scan.changes.emplace_back(index, std::vector<std::byte>(payload.begin(), payload.end()));
      scan.last_index = index;
      scan.last_term = header.term;
      offset += storage::format::record_bytes(header.length);
    }
    next = index;
  }
  return scan;
}

}  // namespace conf_detail

inline raft::NodeSet members_of(const raft::ConfState& conf) {
  raft::NodeSet members = raft::NodeSet::from_bits(conf.voters.bits() | conf.learners.bits());
  members.insert(conf.repairing);
  return members;
}

inline NodeLogSummary summarize_node_log(const std::filesystem::path& dir, const raft::ConfState& bootstrap) {
  NodeLogSummary summary;
  summary.conf = bootstrap;
  const std::filesystem::path snapshot_file =
      dir / storage::format::kSnapshotDirName / storage::format::kSnapshotFileName;
  std::optional<storage::SnapshotMeta> snapshot;
  std::error_code ec;
  if (std::filesystem::exists(snapshot_file, ec)) snapshot = storage::SnapshotReader(snapshot_file).meta();
  const uint64_t snapshot_index = snapshot ? snapshot->last_index : 0;
  if (snapshot) {
    summary.last_index = snapshot->last_index;
    summary.last_term = snapshot->last_term;
    if (snapshot->voters != 0 || snapshot->learners != 0)  // else a version-1 file: the initial voters
      summary.conf = raft::ConfState{raft::NodeSet::from_bits(snapshot->voters),
                                     raft::NodeSet::from_bits(snapshot->learners), snapshot->repairing,
                                     snapshot->repair_incarnation};
  }
  summary.highest_id = conf_detail::highest_id_of(summary.conf);

  const conf_detail::LogScan log = conf_detail::scan_log(dir / storage::format::kLogDirName, snapshot_index);
  if (log.first_index == 0) return summary;
  if (log.first_index > snapshot_index + 1) {
    throw std::runtime_error(fmt::format("its log starts at entry {}, but {} is missing", log.first_index,
                                         snapshot
                                             ? "the snapshot ends at entry " + std::to_string(snapshot_index)
                                             : std::string("no snapshot covers the entries before")));
  }
  // A log that ends below the snapshot, or holds its last entry with another term, is what an interrupted
  // snapshot install leaves: recovery discards it.
  const auto term_at_snapshot = log.terms_at.find(snapshot_index);
  if (snapshot_index > 0 &&
      (log.last_index < snapshot_index ||
       (term_at_snapshot != log.terms_at.end() && term_at_snapshot->second != snapshot->last_term)))
    return summary;
  if (log.last_index > snapshot_index) {
    summary.last_index = log.last_index;
    summary.last_term = log.last_term;
  }
  for (const auto& [index, payload] : log.changes) {
    if (index <= snapshot_index) continue;
    const raft::DecodedConfChange decoded = raft::decode_conf_change(payload);
    if (!decoded) throw std::runtime_error(fmt::format("entry {}: {}", index, decoded.error));
    if (const raft::ConfChangeRefusal refusal =
            raft::check_conf_change(summary.conf, decoded.change, raft::kMaxNodeId);
        refusal != raft::ConfChangeRefusal::kNone) {
      throw std::runtime_error(fmt::format("entry {} ({} {}) does not apply to its configuration: {}", index,
                                           raft::to_string(decoded.change.type), decoded.change.node,
                                           raft::to_string(refusal)));
    }
    summary.conf = raft::apply_conf_change(summary.conf, decoded.change);
    summary.highest_id = std::max(summary.highest_id, decoded.change.node);
  }
  return summary;
}

inline StoredConfiguration stored_configuration(const ClusterDirs& dirs, const std::vector<uint32_t>& nodes,
                                                uint32_t initial_voters) {
  StoredConfiguration stored;
  stored.conf = conf_detail::bootstrap_voters(initial_voters);
  stored.highest_id = initial_voters;
  for (const uint32_t node : nodes) {
    NodeLogSummary summary;
    try {
      summary = summarize_node_log(dirs.node_dir(node), conf_detail::bootstrap_voters(initial_voters));
    } catch (const std::exception& e) {
      stored.notes.push_back(
          fmt::format("node {}: its files were not read ({}); it starts only if a member "
                      "and then sorts itself out",
                      node, e.what()));
      continue;
    }
    stored.highest_id = std::max(stored.highest_id, summary.highest_id);
    if (std::pair(summary.last_term, summary.last_index) <= std::pair(stored.last_term, stored.last_index))
      continue;  // ties: equal logs (Log Matching), the lowest id is named
    stored.conf = summary.conf;
    stored.from_node = node;
    stored.last_term = summary.last_term;
    stored.last_index = summary.last_index;
  }
  return stored;
}

inline ClusterPlan plan_up(const ClusterDirs& dirs, const std::optional<ipc::ClusterId>& stamped,
                           const UpRequest& request, std::ostream& log) {
  ClusterPlan plan{request.segment, {}, {}, {}};
  if (!stamped) {
    plan.voters = conf_detail::bootstrap_voters(request.segment.node_count).voters;
    plan.nodes = plan.voters;
    return plan;
  }
  const std::optional<uint32_t> recorded = dirs.initial_voters(*stamped);
  if (recorded && request.nodes_given && *recorded != request.segment.node_count) {
    throw UsageError(fmt::format(
        "cluster '{}' began with voters 1..{} and its logs continue that configuration: -n {} cannot "
        "change it (leave -n out; `shmraft member` changes the members of a running cluster)",
        dirs.cluster(), *recorded, request.segment.node_count));
  }
  if (!recorded) {
    log << fmt::format(
        "{} holds no record of the initial voters (written by an older shmraft): taking "
        "voters 1..{} (-n) for them\n",
        dirs.root().string(), request.segment.node_count);
  }
  plan.segment.node_count = recorded.value_or(request.segment.node_count);

  const StoredConfiguration stored =
      stored_configuration(dirs, dirs.stamped_nodes(), plan.segment.node_count);
  for (const std::string& note : stored.notes) log << note << "\n";
  plan.voters = stored.conf.voters;
  plan.nodes = members_of(stored.conf);
  if (stored.from_node) plan.ran_before = plan.nodes;
  if (stored.from_node) {
    log << fmt::format(
        "configuration of node {}'s log (term {}, entry {}, the most up-to-date): voters {}; "
        "learners {}{}\n",
        *stored.from_node, stored.last_term, stored.last_index, conf_detail::ids(stored.conf.voters),
        conf_detail::ids(stored.conf.learners),
        stored.conf.repairing != 0
            ? fmt::format("; node {} in the middle of its repair", stored.conf.repairing)
            : "");
  }
  raft::NodeSet left_out;
  for (const uint32_t node : dirs.stamped_nodes())
    if (!plan.nodes.contains(node)) left_out.insert(node);
  if (!left_out.empty())
    log << fmt::format("not started, no members: node {} (directories kept)\n", conf_detail::ids(left_out));

  const uint32_t room = std::max(stored.highest_id, plan.nodes.max_id());
  if (request.max_nodes_given && request.segment.max_nodes < room) {
    throw UsageError(
        fmt::format("--max-nodes {} leaves no room for node {}, which the logs of cluster '{}' "
                    "name: give at least --max-nodes {}",
                    request.segment.max_nodes, room, dirs.cluster(), room));
  }
  if (room > ipc::kMaxNodes) {
    throw LauncherError(
        fmt::format("the logs of cluster '{}' name node {}, beyond the {} node slots a "
                    "segment has",
                    dirs.cluster(), room, ipc::kMaxNodes));
  }
  if (!request.max_nodes_given) plan.segment.max_nodes = std::max(plan.segment.settled().max_nodes, room);
  return plan;
}

}  // namespace shmraft::launcher
