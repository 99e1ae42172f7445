#pragma once
// Storage faults for `shmraft chaos --storage-faults`: damage to the files of a stopped node, injected
// before its restart. After every kind the node must start *lost* (it votes on nothing, damaged files set
// aside) and the leader repair it from its peers (docs/design.md, "Lost state"), which repair_watch.h
// judges.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace shmraft::launcher {

enum class StorageFaultKind {
  committed_bit_flip,    // one bit of a committed record's header or payload
  committed_truncate,    // a segment file cut inside a committed record
  committed_zero_tail,   // a segment zeroed from a committed record to its end
  missing_segment,       // a segment holding committed entries removed
  corrupt_snapshot,      // one bit of snap/snapshot
  uncommitted_bit_flip,  // one bit of the term or payload of a record above the commit index, with an
                         // intact record after it (so it is not a torn write)
  uncommitted_damage,    // the log's tail above the saved commit index zeroed or cut, or its last
                         // segment removed when it holds only such entries (below the watermark all)
  corrupt_hard_state,    // one bit of the newest slot of `meta`
  wiped_directory,       // the whole node directory
};

std::string_view to_string(StorageFaultKind kind) noexcept;
std::optional<StorageFaultKind> parse_storage_fault(std::string_view name);
std::vector<StorageFaultKind> all_storage_faults();

// Damages the directory of a stopped node with `kind` and returns one line
// saying what and where, or nullopt if the node holds nothing that kind could damage (no committed
// entry, no snapshot). Opens the node's storage first to learn its commit index and layout: the same
// recovery its restart runs.
std::optional<std::string> inject_storage_fault(StorageFaultKind kind, const std::filesystem::path& node_dir,
                                                std::mt19937_64& rng);

// The same damage whether the run injects the kind or not, for tests of what lies outside the chaos
// model (a majority damaged).
std::optional<std::string> damage_node_files(StorageFaultKind kind, const std::filesystem::path& node_dir,
                                             std::mt19937_64& rng);
// Zeroes the node's log from the record of entry `index` to the end of its segment, and every later
// segment after its header; nullopt if no record holds `index`.
std::optional<std::string> zero_log_from(const std::filesystem::path& node_dir, uint64_t index);

}  // namespace shmraft::launcher
